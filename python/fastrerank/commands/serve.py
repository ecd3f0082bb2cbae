"""``fastrerank serve``: one model over HTTP (Cohere v2, Cohere v1 / Jina, TEI), on uvicorn.

The port opens at once; the model loads on a thread meanwhile (``/ready`` answers 503 until it
is up). SIGTERM drains (see :mod:`fastrerank.server.runner`), then the process exits 0. For
another ASGI server such as granian, see :func:`app_from_env`.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Callable
from typing import Any

from fastrerank.commands.common import CommandError, add_engine_arguments, engine_options
from fastrerank.engine import Engine

__all__ = ["API_KEY_ENV", "ARGS_ENV", "app_from_env", "register"]

HELP = "serve a model over HTTP: Cohere v2 (/v2/rerank), Cohere v1 and Jina (/v1/rerank), TEI (/rerank)"
DESCRIPTION = (
    "Serves one model over HTTP with continuous batching across concurrent requests. Routes: POST /v2/rerank "
    "(Cohere v2), POST /v1/rerank (Cohere v1 and Jina), POST /rerank (TEI; Cohere-shaped with 'documents'), "
    "GET /health, /ready, /metrics (Prometheus), /openapi.json."
)

API_KEY_ENV = "FASTRERANK_API_KEY"
ARGS_ENV = "FASTRERANK_SERVE_ARGS"


def register(subparsers: Any) -> None:
    """Adds ``fastrerank serve``."""
    from fastrerank.server.config import ServerConfig

    p = subparsers.add_parser("serve", help=HELP, description=DESCRIPTION)
    p.add_argument("--model", "-m", help="model directory (model.onnx, tokenizer.json, config.json) or name")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=8080, help="port (default: %(default)s; 0: any free port)")
    add_engine_arguments(p)
    p.add_argument(
        "--api-key",
        default=None,
        help=f"require 'Authorization: Bearer KEY' on rerank routes (default: ${API_KEY_ENV}, which is better: "
        "a flag's value is visible to every user of the machine in the process list)",
    )
    p.add_argument("--served-model-name", default=None, help="the `model` of /v1 responses (default: the model's directory name)")
    for name, kind, default, help_text in ServerConfig.options():
        p.add_argument("--" + name.replace("_", "-"), type=kind, default=default, help=help_text)
    p.add_argument(
        "--v1-return-documents", action="store_true", help="/v1/rerank returns documents unless the request says otherwise (Jina's default)"
    )
    p.add_argument("--stub-engine", action="store_true", help="no model: made-up scores at no cost, to measure the server's own overhead")
    p.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"], help="uvicorn's log level")
    p.add_argument("--access-log", action="store_true", help="log every request (uvicorn's access log)")
    p.add_argument(
        "--timeout-keep-alive", type=int, default=5, help="seconds an idle keep-alive connection stays open (default: %(default)s)"
    )
    p.set_defaults(func=_serve)


def _config(args: argparse.Namespace) -> Any:
    from fastrerank.server.config import ServerConfig

    if not args.stub_engine and not args.model:
        raise CommandError("serve needs --model (or --stub-engine)")
    name = args.served_model_name or ("stub" if args.stub_engine else os.path.basename(os.path.normpath(args.model)))
    values = {f: getattr(args, f) for f, _, _, _ in ServerConfig.options()}
    return ServerConfig(model_name=name, api_key=_api_key(args), v1_return_documents=args.v1_return_documents, **values)


def _api_key(args: argparse.Namespace) -> str | None:
    """The key from --api-key, else $FASTRERANK_API_KEY; None when neither is set. An empty one
    is an error, not "no authentication": a secret that failed to reach the process must not
    open the server."""
    key, source = (args.api_key, "--api-key") if args.api_key is not None else (os.environ.get(API_KEY_ENV), f"${API_KEY_ENV}")
    if key is not None and not key.strip():
        raise CommandError(f"{source} is empty (or only whitespace): give a key, or leave it unset to serve without authentication")
    return key


def _loader(args: argparse.Namespace) -> Callable[[], Engine]:
    def load() -> Engine:
        if args.stub_engine:
            from fastrerank.server.stub import StubEngine

            return StubEngine(**({"max_batch_tokens": args.max_batch_tokens} if args.max_batch_tokens else {}))
        from fastrerank import Reranker

        return Reranker(args.model, **engine_options(args))

    return load


def _describe(engine: Engine, config: Any) -> str:
    auth = (
        "authentication on (Authorization: Bearer KEY on the rerank routes)"
        if config.api_key is not None
        else f"authentication off: any client may rerank (set ${API_KEY_ENV} to require a key)"
    )
    return (
        f"model {engine.model_path} on {engine.device}, {engine.precision}, {engine.threads} threads, "
        f"max_length {engine.max_length}, max_batch_tokens {engine.max_batch_tokens}; {auth}"
    )


def app_from_env() -> Any:
    """An app configured from ``$FASTRERANK_SERVE_ARGS`` (the ``serve`` flags), for other ASGI
    servers: ``FASTRERANK_SERVE_ARGS='--model DIR' granian --interface asgi --factory
    fastrerank.commands.serve:app_from_env``. Draining is then the ASGI lifespan shutdown's."""
    from fastrerank.server.app import App

    parser = argparse.ArgumentParser(prog="fastrerank")
    register(parser.add_subparsers())
    args = parser.parse_args(["serve", *shlex.split(os.environ.get(ARGS_ENV, ""))])
    config = _config(args)
    return App(config, load=_loader(args), on_ready=lambda e: print(f"fastrerank: ready: {_describe(e, config)}", flush=True))


def _serve(args: argparse.Namespace) -> int:
    from fastrerank.server.app import App
    from fastrerank.server.runner import bind, run

    config = _config(args)
    if args.api_key is not None:
        print(
            f"fastrerank: warning: --api-key is visible to every user of this machine in the process list; set ${API_KEY_ENV} instead",
            file=sys.stderr,
            flush=True,
        )
    try:
        sock = bind(args.host, args.port, config.backlog)
    except OSError as e:
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {e.strerror}") from e
    host, port = sock.getsockname()[:2]
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def ready(engine: Any) -> None:
        print(f"fastrerank: ready: {_describe(engine, config)}", flush=True)

    def failed(error: BaseException) -> None:
        print(f"fastrerank: error: the model failed to load: {error}", file=sys.stderr, flush=True)

    app = App(config, load=_loader(args), on_ready=ready, on_failed=failed)
    print(f"fastrerank: listening on {url} (loading the model; /ready answers 200 once it is up)", flush=True)
    try:
        run(app, sock, log_level=args.log_level, access_log=args.access_log, timeout_keep_alive=args.timeout_keep_alive)
    finally:
        sock.close()
    if app.state == "failed":
        return 1
    print("fastrerank: stopped", flush=True)
    return 0
