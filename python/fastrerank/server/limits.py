"""Request limits: body bytes, documents per request, characters per document and query.

Each message names the limit and the ``serve`` flag that raises it.
"""

from __future__ import annotations

from fastrerank.inputs import TextTooLong
from fastrerank.server.config import ServerConfig
from fastrerank.server.errors import HTTPError

__all__ = ["check_body_size", "check_request_size", "too_long"]


def check_body_size(size: int, config: ServerConfig) -> None:
    """413 when a body of ``size`` bytes is over ``max_body_bytes`` (the connection closes:
    the rest of the body is not read)."""
    if size > config.max_body_bytes:
        raise HTTPError(413, f"the request body is larger than {config.max_body_bytes} bytes (--max-body-bytes)", {"connection": "close"})


def check_request_size(query: str, n_texts: int, config: ServerConfig, *, what: str = "documents") -> None:
    """400 when there are too many documents or the query is too long; checked before any
    document's text is built."""
    if n_texts > config.max_documents:
        raise HTTPError(400, f"too many {what}: {n_texts}, at most {config.max_documents} per request (--max-documents)")
    if len(query) > config.max_query_chars:
        raise HTTPError(400, f"query has {len(query)} characters, at most {config.max_query_chars} (--max-query-chars)")


def too_long(error: TextTooLong, *, what: str = "documents") -> HTTPError:
    """The 400 of a document over ``max_document_chars`` (found by ``inputs.document_texts``)."""
    return HTTPError(400, f"{what}[{error.index}] has {error.length} characters, at most {error.limit} (--max-document-chars)")
