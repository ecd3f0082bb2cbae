"""``fastrerank serve``: the rerank server on uvicorn, with a graceful drain on SIGTERM.

The port opens at once; the model loads on a thread meanwhile (``/ready`` answers 503 until it
is up). On SIGTERM or Ctrl-C readiness turns 503, new rerank requests are refused (503), the
queue drains (at most ``--drain-timeout`` seconds), then the process exits 0; a second signal
exits at once. For granian instead of uvicorn, see :func:`app_from_env`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import fields
from typing import Any

__all__ = ["app_from_env", "register"]

API_KEY_ENV = "FASTRERANK_API_KEY"
ARGS_ENV = "FASTRERANK_SERVE_ARGS"

# ServerConfig fields with a flag of the same name (model_name and api_key have their own).
_HELP = {
    "max_body_bytes": "largest request body in bytes (default: 2 MiB); larger: 413",
    "max_documents": "most documents per request (default: 1000; Cohere allows up to 10000)",
    "max_document_chars": "most characters per document (default: 100000)",
    "max_query_chars": "most characters per query (default: 10000)",
    "max_queue_pairs": "most (query, document) pairs waiting for the model (default: 10000); beyond: 429",
    "max_queue_tokens": "most tokens waiting for the model (default: 2000000); beyond: 429",
    "request_timeout": "seconds a request may take from arrival (default: 60); then 503",
    "drain_timeout": "seconds SIGTERM waits for the queue to drain (default: 30)",
    "step_tokens": "padded tokens per engine batch (default: the engine's --max-batch-tokens)",
    "v1_max_chunks_per_doc": "/v1/rerank's max_chunks_per_doc when the request has none (default: 10, Cohere's)",
    "tokenize_inline_chars": "requests up to this many characters are tokenized on the event loop, larger ones on a thread (default: 8192)",
}


def register(subparsers: Any) -> None:
    """Adds ``fastrerank serve``."""
    from fastrerank.cli import _add_engine_arguments
    from fastrerank.server.config import ServerConfig

    p = subparsers.add_parser(
        "serve",
        help="serve a model over HTTP: Cohere v2 (/v2/rerank), Cohere v1 and Jina (/v1/rerank), TEI (/rerank)",
        description=(
            "Serves one model over HTTP with continuous batching across concurrent requests. Routes: POST /v2/rerank "
            "(Cohere v2), POST /v1/rerank (Cohere v1 and Jina), POST /rerank (TEI; Cohere-shaped with 'documents'), "
            "GET /health, /ready, /metrics (Prometheus), /openapi.json."
        ),
    )
    p.add_argument("--model", "-m", help="model directory (model.onnx, tokenizer.json, config.json) or name")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default: 8080; 0: any free port)")
    _add_engine_arguments(p)
    p.add_argument("--max-batch-tokens", type=int, default=None, help="padded tokens per model call (default: 1024 on CPU, 16384 on CUDA)")
    p.add_argument("--api-key", default=os.environ.get(API_KEY_ENV), help=f"require 'Authorization: Bearer KEY' on rerank routes (default: ${API_KEY_ENV})")
    p.add_argument("--served-model-name", default=None, help="the `model` of /v1 responses (default: the model's directory name)")
    defaults = ServerConfig()
    for f in fields(ServerConfig):
        if f.name in _HELP:
            kind = float if isinstance(getattr(defaults, f.name), float) else int
            p.add_argument("--" + f.name.replace("_", "-"), type=kind, default=getattr(defaults, f.name), help=_HELP[f.name])
    p.add_argument(
        "--v1-return-documents", action="store_true", help="/v1/rerank returns documents unless the request says otherwise (Jina's default)"
    )
    p.add_argument("--stub-engine", action="store_true", help="no model: made-up scores at no cost, to measure the server's own overhead")
    p.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"], help="uvicorn's log level")
    p.add_argument("--access-log", action="store_true", help="log every request (uvicorn's access log)")
    p.add_argument("--timeout-keep-alive", type=float, default=5.0, help="seconds an idle keep-alive connection stays open (default: 5)")
    p.set_defaults(func=_serve)


def _config(args: argparse.Namespace) -> Any:
    from fastrerank.server.config import ServerConfig

    if not args.stub_engine and not args.model:
        from fastrerank.cli import CommandError

        raise CommandError("serve needs --model (or --stub-engine)")
    name = args.served_model_name or ("stub" if args.stub_engine else os.path.basename(os.path.normpath(args.model)))
    values = {f: getattr(args, f) for f in _HELP}
    return ServerConfig(model_name=name, api_key=args.api_key or None, v1_return_documents=args.v1_return_documents, **values)


def _loader(args: argparse.Namespace) -> Any:
    def load() -> Any:
        if args.stub_engine:
            from fastrerank.server.stub import StubEngine

            return StubEngine(**({"max_batch_tokens": args.max_batch_tokens} if args.max_batch_tokens else {}))
        from fastrerank import Reranker

        return Reranker(args.model, device=args.device, precision=args.precision, threads=args.threads, max_batch_tokens=args.max_batch_tokens)

    return load


def _describe(engine: Any) -> str:
    threads = getattr(engine, "threads", None)
    return (
        f"model {engine.model_path} on {engine.device}, {engine.precision}"
        + (f", {threads} threads" if threads else "")
        + f", max_length {engine.max_length}, max_batch_tokens {engine.max_batch_tokens}"
    )


def app_from_env() -> Any:
    """An app configured from ``$FASTRERANK_SERVE_ARGS`` (the ``serve`` flags), for other ASGI
    servers: ``FASTRERANK_SERVE_ARGS='--model DIR' granian --interface asgi --factory
    fastrerank.server.cli:app_from_env``. Draining is then the ASGI lifespan shutdown's."""
    from fastrerank.cli import build_parser
    from fastrerank.server.app import App

    args = build_parser().parse_args(["serve", *shlex.split(os.environ.get(ARGS_ENV, ""))])
    return App(_config(args), load=_loader(args), on_ready=lambda e: print(f"fastrerank: ready: {_describe(e)}", flush=True))


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        from fastrerank.cli import CommandError

        raise CommandError(f"cannot listen on {host}:{port}: {e.strerror}") from e
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from fastrerank.server.app import App

    config = _config(args)
    sock = _bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def ready(engine: Any) -> None:
        print(f"fastrerank: ready: {_describe(engine)}", flush=True)

    def failed(error: BaseException) -> None:
        print(f"fastrerank: error: the model failed to load: {error}", file=sys.stderr, flush=True)

    app = App(config, load=_loader(args), on_ready=ready, on_failed=failed)
    uconfig = uvicorn.Config(
        app,
        lifespan="on",
        log_level=args.log_level,
        access_log=args.access_log,
        loop=_available("uvloop", "asyncio"),
        http=_available("httptools", "h11"),
        timeout_keep_alive=args.timeout_keep_alive,
        timeout_graceful_shutdown=5,
        backlog=2048,
    )
    server = _DrainingServer(uconfig, app)
    print(f"fastrerank: listening on {url} (loading the model; /ready answers 200 once it is up)", flush=True)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    if app.state == "failed":
        return 1
    print("fastrerank: stopped", flush=True)
    return 0


def _available(module: str, fallback: str) -> str:
    try:
        __import__(module)
    except ImportError:
        return fallback
    return module


def _server_class() -> type:
    import uvicorn

    class DrainingServer(uvicorn.Server):
        """uvicorn, with SIGTERM / SIGINT starting a drain instead of closing at once."""

        def __init__(self, config: Any, app: Any) -> None:
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
            return await super().on_tick(counter)

    return DrainingServer


def _DrainingServer(config: Any, app: Any) -> Any:  # noqa: N802 - a class made on first use
    return _server_class()(config, app)
