"""The rerank routes read JSON only: a body of any other Content-Type, or of none, is a 415.

A web page can make a browser send a cross-site POST without asking the server first (a CORS
"simple" request) only as text/plain, application/x-www-form-urlencoded or multipart/form-data,
or with no Content-Type at all (a Blob body). Taking nothing but JSON means no page a user
visits can make a server on their machine (or their network) do work.
"""

from __future__ import annotations

from fastrerank.server.errors import HTTPError

__all__ = ["check_json"]


def check_json(content_type: bytes | None) -> None:
    """Passes ``application/json`` (any parameters, any case) and ``application/*+json``;
    raises HTTPError(415) for anything else, or no header."""
    if content_type is not None:
        media = content_type.split(b";", 1)[0].strip().lower()
        if media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json")):
            return
    got = "none" if content_type is None else repr(content_type.decode("latin-1")[:40])
    raise HTTPError(415, f"the body must be JSON: send 'Content-Type: application/json' (got {got})", {"accept-post": "application/json"})
