"""``fastrerank serve``: one HTTP server speaking Cohere v2, Cohere v1 / Jina and TEI, with
continuous batching across concurrent requests.

Install with ``pip install 'fastrerank[server]'``. Pieces, one idea per module:

- :mod:`~fastrerank.server.schemas`: request / response types (msgspec)
- :mod:`~fastrerank.server.app`: the ASGI application (routes, limits, auth, readiness)
- :mod:`~fastrerank.server.admission`: tokenize once, cut, cost and order a request's pairs
- :mod:`~fastrerank.server.batcher`: the bounded queue and the engine thread
- :mod:`~fastrerank.server.metrics`, :mod:`~fastrerank.server.openapi`,
  :mod:`~fastrerank.server.limits`, :mod:`~fastrerank.server.auth`,
  :mod:`~fastrerank.server.config`, :mod:`~fastrerank.server.stub`
- :mod:`~fastrerank.server.cli`: the ``serve`` subcommand (uvicorn, graceful drain)
"""

from __future__ import annotations

__all__ = ["App", "ServerConfig"]


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    # Lazy, so `fastrerank --help` does not import msgspec / uvicorn.
    if name == "App":
        from fastrerank.server.app import App

        return App
    if name == "ServerConfig":
        from fastrerank.server.config import ServerConfig

        return ServerConfig
    raise AttributeError(name)
