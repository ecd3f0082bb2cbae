"""What the queue answers besides scores: why a request was refused or not served.

The batcher raises or settles futures with these domain outcomes; only the application
(:mod:`fastrerank.server.app`) turns them into HTTP statuses and headers.
"""

from __future__ import annotations

__all__ = ["DeadlinePassed", "EngineFailed", "NotServed", "Overloaded", "ShuttingDown", "TooMuchWork"]


class NotServed(Exception):
    """A request the queue did not serve; the message says why and what to do."""


class Overloaded(NotServed):
    """The queue cannot take the request now; ``retry_after`` seconds is when it likely can."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TooMuchWork(NotServed):
    """The request alone needs more time than its deadline leaves, however empty the queue:
    retrying it unchanged cannot help."""


class ShuttingDown(NotServed):
    """The server is draining: it serves what it has queued and takes nothing new."""


class DeadlinePassed(NotServed):
    """The request's deadline passed before it was scored."""


class EngineFailed(NotServed):
    """The engine raised while scoring the request's pairs; the engine's exception is the
    ``__cause__`` (for the log, never for the client)."""
