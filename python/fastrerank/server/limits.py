"""Request limits: body bytes, documents per request, characters per document and query.

Each message names the limit and the ``serve`` flag that raises it.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastrerank.server.config import ServerConfig
from fastrerank.server.errors import HTTPError

__all__ = ["check_body_size", "check_request_size"]


def check_body_size(size: int, config: ServerConfig) -> None:
    """413 when a body of ``size`` bytes is over ``max_body_bytes``."""
    if size > config.max_body_bytes:
        raise HTTPError(413, f"the request body is larger than {config.max_body_bytes} bytes (--max-body-bytes)")


def check_request_size(query: str, texts: Sequence[str], config: ServerConfig, *, what: str = "documents") -> None:
    """400 when there are too many documents, or a document or the query is too long."""
    if len(texts) > config.max_documents:
        raise HTTPError(400, f"too many {what}: {len(texts)}, at most {config.max_documents} per request (--max-documents)")
    if len(query) > config.max_query_chars:
        raise HTTPError(400, f"query has {len(query)} characters, at most {config.max_query_chars} (--max-query-chars)")
    if texts:
        longest = max(map(len, texts))
        if longest > config.max_document_chars:
            i = next(i for i, t in enumerate(texts) if len(t) == longest)
            raise HTTPError(400, f"{what}[{i}] has {longest} characters, at most {config.max_document_chars} (--max-document-chars)")
