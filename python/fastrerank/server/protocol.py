"""The HTTP/1.1 connection: uvicorn's httptools protocol with the bounds a listener needs.

- At most ``max_connections`` open connections: one beyond is answered 503 and closed at once.
- A request head (request line and headers) of at most ``max_header_bytes``: a larger one is
  answered 431 as soon as it passes the bound (httptools itself has none).
- A connection has ``header_timeout`` seconds from opening, or from the first byte of a head, to
  complete the head (slowloris; a socket that sends nothing is closed), and a request's body
  ``body_timeout`` seconds from its head: else 408.
- What the protocol refuses is JSON like the application's answers: malformed HTTP is a 400 with
  the parser's reason instead of uvicorn's plain text. While the application answers a request
  on the connection, its answer goes first and the connection closes after it.
- At shutdown, a connection without a request in progress has :data:`SHUTDOWN_GRACE` seconds for
  one to arrive (answered, ``Connection: close``) before it closes, so a request sent in the
  last moments gets an answer rather than a closed socket.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httptools
import msgspec
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

__all__ = ["SHUTDOWN_GRACE", "ConnectionLimits", "protocol_class"]

SHUTDOWN_GRACE = 1.0  # seconds an idle connection may still start a request at shutdown


@dataclass(frozen=True)
class ConnectionLimits:
    """What one listener allows its connections (from :class:`~fastrerank.server.config.ServerConfig`),
    and ``refused(status)``, called for each request or connection the protocol refuses."""

    max_connections: int
    max_header_bytes: int
    header_timeout: float
    body_timeout: float
    refused: Callable[[int], None] = lambda status: None


class _Protocol(HttpToolsProtocol):
    limits: ConnectionLimits  # set by protocol_class

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None
        self._in_head = True  # between the last request's end (or the connection's start) and a complete head
        self._head_started = False  # a byte of the coming head has arrived
        self._head_bytes = 0  # bytes received since the head began (while it is incomplete)
        self._head_size = 0  # the head's request line and headers, as parsed
        self._refusal: tuple[int, str] | None = None  # set by a parser callback, answered by data_received
        self._refused = False  # nothing more is read
        self._closing_down = False

    # ---- the connection -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            message = f"too many open connections (at most {self.limits.max_connections}, --max-connections); retry shortly"
            self._refuse(503, message, [(b"retry-after", b"1")])
            return
        self._arm(self.limits.header_timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # after a refusal: dropped
        self._unset_keepalive_if_required()
        if self._in_head:
            self._head_bytes += len(data)
            if self._timer is None:
                self._arm(self.limits.header_timeout, self._head_timed_out)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError as e:
            status, message = self._refusal or (400, f"malformed HTTP request: {str(e)[:100]}")
            self._refuse(status, message)
            return
        if self._in_head and self._head_bytes > self.limits.max_header_bytes:
            self._refuse(431, self._head_too_large())

    def shutdown(self) -> None:
        self._closing_down = True
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False  # answered, then closed
            return
        # nothing in progress: a request may be on its way, give it a moment
        self._arm(SHUTDOWN_GRACE, self._head_timed_out)

    # ---- parser callbacks ---------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_started = True
        if self._timer is None:
            self._arm(self.limits.header_timeout, self._head_timed_out)

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._head_size > self.limits.max_header_bytes:
            self._refusal = (431, self._head_too_large())
            raise ValueError("head too large")  # httptools stops parsing: data_received answers
        self._in_head = False
        self._arm(self.limits.body_timeout, self._body_timed_out)
        super().on_headers_complete()
        if self._closing_down and self.cycle is not None:
            self.cycle.keep_alive = False

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()
        self._in_head, self._head_started, self._head_bytes, self._head_size = True, False, 0, 0

    # ---- refusing -----------------------------------------------------------------------------

    def _head_too_large(self) -> str:
        return f"the request head (request line and headers) is larger than {self.limits.max_header_bytes} bytes (--max-header-bytes)"

    def _head_timed_out(self) -> None:
        self._timer = None
        if self._in_head and self._head_started:
            self._refuse(408, f"the request head did not arrive within {self.limits.header_timeout:g} s (--header-timeout)")
        elif self._answering():
            self.cycle.keep_alive = False  # closed once answered
        else:
            self.transport.close()  # idle: nothing to answer

    def _body_timed_out(self) -> None:
        self._timer = None
        if self.cycle.response_started:  # answered before its body was read: only the rest was awaited
            self._refused = True
            if self.cycle.response_complete:
                self.transport.close()
            else:
                self.cycle.keep_alive = False
            return
        self._refuse(408, f"the request body did not arrive within {self.limits.body_timeout:g} s (--body-timeout)")

    def _answering(self) -> bool:
        """True while the application works on a request it has read whole, or answers one."""
        cycle = self.cycle
        return cycle is not None and not cycle.response_complete and (cycle.response_started or not cycle.more_body)

    def _refuse(self, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        """Answers ``status`` with a JSON ``message`` and closes. While the application answers a
        request, its answer goes first: the connection closes after it and nothing more is read."""
        self._disarm()
        self._refused = True
        if self.transport.is_closing():
            return
        if self._answering():
            self.cycle.keep_alive = False
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:  # the application waits for this body
            cycle.disconnected = True
            cycle.message_event.set()
        body = msgspec.json.encode({"message": message})
        head = [STATUS_LINE[status]]
        for name, value in [*self.server_state.default_headers, *(headers or [])]:
            head.append(name + b": " + value + b"\r\n")
        head.append(b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body))
        self.transport.write(b"".join(head) + body)
        self.transport.close()
        self.limits.refused(status)

    def _arm(self, seconds: float, then: Callable[[], None]) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, then)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def protocol_class(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """The protocol class to give uvicorn (``Config(http=...)``) for connections under ``limits``."""
    return type("FastrerankHTTPProtocol", (_Protocol,), {"limits": limits})
