"""The one error type of the server: an HTTP status, a message, and extra headers."""

from __future__ import annotations

__all__ = ["HTTPError"]


class HTTPError(Exception):
    """Answered as ``{"message": ...}`` with ``status`` (and ``headers``, e.g. Retry-After)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
