"""Running an :class:`~fastrerank.server.app.App` on uvicorn, with a graceful drain on SIGTERM.

On SIGTERM or Ctrl-C readiness turns 503, new rerank requests are refused (503) and every answer
says ``Connection: close``, while the queue is served. The drain lasts at least the config's
``min_drain_time`` (so a load balancer sees the 503s before the listener goes away) and at most
``drain_timeout``; then the requests still queued are answered 503 (JSON, ``Connection: close``),
the listener closes, connections without a request in progress get a moment for one to arrive
(:mod:`fastrerank.server.protocol`), and :func:`run` returns. A second signal stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from fastrerank.server.app import App
from fastrerank.server.protocol import SHUTDOWN_GRACE, ConnectionLimits, protocol_class

__all__ = ["FD_RESERVE", "bind", "connection_limits", "run", "uvicorn_config"]

# File descriptors kept for everything but client connections: the listener, the model's
# files, thread and event-loop internals, logs.
FD_RESERVE = 64
ANSWER_SECONDS = 2.0  # at the end of a drain: time for the requests answered 503 to be written
# At the end of a drain the listener stops queueing handshakes, then takes this long to accept
# (and answer) those already queued before it closes: closing it with connections in its queue
# would reset them, while a handshake it did not queue is retried by the client and refused.
LAST_ACCEPT_SECONDS = 0.2
SO_ATTACH_FILTER = 26  # Linux: a classic BPF program run on each packet the socket receives


def bind(host: str, port: int, backlog: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (0: any free port); OSError when it cannot."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def _available(module: str, fallback: str) -> str:
    try:
        __import__(module)
    except ImportError:
        return fallback
    return module


def connection_limits(app: App) -> ConnectionLimits:
    """The config's connection bounds, ``max_connections`` lowered (with a warning) to what the
    process's open-file limit leaves: past it a connection cannot even be accepted to be refused."""
    c = app.config
    most = c.max_connections
    soft = _open_file_limit()
    if soft is not None and most > soft - FD_RESERVE:
        most = max(1, soft - FD_RESERVE)
        print(
            f"fastrerank: warning: --max-connections {c.max_connections} is more than the open-file limit allows "
            f"(ulimit -n {soft}); serving at most {most} connections",
            file=sys.stderr,
            flush=True,
        )

    def refused(status: int) -> None:
        app.metrics.refused.inc(str(status))

    return ConnectionLimits(most, c.max_header_bytes, c.header_timeout, c.body_timeout, refused)


def _open_file_limit() -> int | None:
    try:
        import resource
    except ImportError:  # not a POSIX system
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def uvicorn_config(app: App, *, log_level: str = "warning", access_log: bool = False, timeout_keep_alive: int = 5) -> Any:
    """The uvicorn configuration ``app`` is served with: httptools under this package's
    connection bounds (:mod:`fastrerank.server.protocol`), no WebSocket."""
    import uvicorn

    return uvicorn.Config(
        app,
        lifespan="on",
        log_level=log_level,
        access_log=access_log,
        loop=_available("uvloop", "asyncio"),
        http=protocol_class(connection_limits(app)),
        ws="none",
        timeout_keep_alive=timeout_keep_alive,
        timeout_graceful_shutdown=math.ceil(SHUTDOWN_GRACE) + 1,
        backlog=app.config.backlog,
    )


def run(app: App, sock: socket.socket, *, log_level: str = "warning", access_log: bool = False, timeout_keep_alive: int = 5) -> None:
    """Serves ``app`` on ``sock`` until a signal has drained it (or the model failed to load)."""
    config = uvicorn_config(app, log_level=log_level, access_log=access_log, timeout_keep_alive=timeout_keep_alive)
    _draining_server_class()(config, app).run(sockets=[sock])


def _draining_server_class() -> type:
    """uvicorn.Server with SIGTERM / SIGINT starting a drain instead of closing at once (made
    on first use: uvicorn is imported only to serve)."""
    import uvicorn

    class DrainingServer(uvicorn.Server):
        def __init__(self, config: Any, app: App) -> None:
            super().__init__(config)
            self.app = app
            self._drain_asked = False
            self._drain_started = False
            self._listeners: list[socket.socket] = []

        async def serve(self, sockets: list[socket.socket] | None = None) -> None:
            self._listeners = list(sockets or [])
            await super().serve(sockets=sockets)

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # uvicorn's own re-raises the signal after shutting down, which would make a clean
            # drain exit with status 143; ours only restores the handlers.
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            original = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

        def handle_exit(self, sig: int, frame: Any) -> None:
            if self._drain_asked or self.app.state != "ready":
                self.force_exit = self.should_exit  # a second signal: stop now
                self.should_exit = True
            self._drain_asked = True

        async def on_tick(self, counter: int) -> bool:
            app = self.app
            if self._drain_asked and not self._drain_started:
                self._drain_started = True
                app.begin_drain()
                print("fastrerank: draining: /ready answers 503, new requests are refused, the queue is served", flush=True)
            if self._drain_started and app.drain_done and not self.should_exit:
                await self._end_drain()
            if app.state == "failed":
                self.should_exit = True
            return bool(await super().on_tick(counter))

        async def _end_drain(self) -> None:
            # Answer what is still queued here, before uvicorn closes anything: its own shutdown
            # would cancel those requests after its grace period instead.
            app = self.app
            await app.close(timeout=0)
            for sock in self._listeners:
                _stop_queueing(sock)
            end = time.monotonic() + ANSWER_SECONDS
            await asyncio.sleep(LAST_ACCEPT_SECONDS)
            while not app.drained and time.monotonic() < end and not self.force_exit:
                await asyncio.sleep(0.01)
            self.should_exit = True

    return DrainingServer


def _stop_queueing(sock: socket.socket) -> None:
    """Makes the listener take no more handshakes while it still accepts those it has queued.
    On Linux a filter that drops every packet does it (a client's SYN goes unanswered, its retry
    meets the closed port); elsewhere the smallest backlog leaves room for about one more."""
    if sys.platform.startswith("linux"):
        import ctypes
        import struct

        drop = ctypes.create_string_buffer(struct.pack("HBBI", 0x06, 0, 0, 0))  # BPF_RET | BPF_K: keep 0 bytes
        program = struct.pack("HL", 1, ctypes.addressof(drop))  # struct sock_fprog
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, program)
            return
        except OSError:
            pass
    sock.listen(0)
