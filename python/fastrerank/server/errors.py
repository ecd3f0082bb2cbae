"""The one error type of the server: an HTTP status, a message, and extra headers."""

from __future__ import annotations

__all__ = ["MAX_MESSAGE_CHARS", "HTTPError"]

# An error repeats at most this much: a message quoting the request (a decoder's, a library
# check's) must not grow with it.
MAX_MESSAGE_CHARS = 1000


class HTTPError(Exception):
    """Answered as ``{"message": ...}`` with ``status`` (and ``headers``, e.g. Retry-After).
    A message over :data:`MAX_MESSAGE_CHARS` loses its middle: its start says what is wrong,
    its end where (a decoder's JSON path)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        if len(message) > MAX_MESSAGE_CHARS:
            half = MAX_MESSAGE_CHARS // 2
            message = f"{message[:half]} ... ({len(message) - 2 * half} characters cut) ... {message[-half:]}"
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
