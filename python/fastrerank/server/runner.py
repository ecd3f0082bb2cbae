"""Running an :class:`~fastrerank.server.app.App` on uvicorn, with a graceful drain on SIGTERM.

On SIGTERM or Ctrl-C readiness turns 503, new rerank requests are refused (503), the queue
drains (at most the config's ``drain_timeout`` seconds), then :func:`run` returns; a second
signal stops at once.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from fastrerank.server.app import App

__all__ = ["bind", "run"]


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


def run(app: App, sock: socket.socket, *, log_level: str = "warning", access_log: bool = False, timeout_keep_alive: int = 5) -> None:
    """Serves ``app`` on ``sock`` until a signal has drained it (or the model failed to load)."""
    import uvicorn

    config = uvicorn.Config(
        app,
        lifespan="on",
        log_level=log_level,
        access_log=access_log,
        loop=_available("uvloop", "asyncio"),
        http=_available("httptools", "h11"),
        timeout_keep_alive=timeout_keep_alive,
        timeout_graceful_shutdown=5,
        backlog=app.config.backlog,
    )
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
            self._drain_started: float | None = None

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
            if self._drain_asked and self._drain_started is None:
                self._drain_started = time.monotonic()
                app.begin_drain()
                print("fastrerank: draining: /ready answers 503, new requests are refused, the queue is served", flush=True)
            if self._drain_started is not None and (app.drained or time.monotonic() - self._drain_started > app.config.drain_timeout):
                self.should_exit = True
            if app.state == "failed":
                self.should_exit = True
            return bool(await super().on_tick(counter))

    return DrainingServer
