"""Optional bearer-key authentication, compared in constant time."""

from __future__ import annotations

import hmac

from fastrerank.server.errors import HTTPError

__all__ = ["BearerAuth"]


class BearerAuth:
    """Checks ``Authorization: Bearer KEY`` against one key (no key: everything passes)."""

    def __init__(self, key: str | None) -> None:
        self._key = key.encode() if key else None

    @property
    def enabled(self) -> bool:
        return self._key is not None

    def check(self, authorization: bytes | None) -> None:
        """Raises HTTPError(401) unless ``authorization`` (the raw header) carries the key."""
        if self._key is None:
            return
        if not authorization:
            raise HTTPError(401, "missing API key: send the header 'Authorization: Bearer <key>'", {"www-authenticate": "Bearer"})
        scheme, _, token = authorization.strip().partition(b" ")
        # compare_digest takes time independent of where the keys differ; a wrong scheme is
        # compared too, so the answer's timing does not tell which part was wrong.
        ok = hmac.compare_digest(token.strip(), self._key)
        if not ok or scheme.lower() != b"bearer":
            raise HTTPError(401, "invalid API key", {"www-authenticate": "Bearer"})
