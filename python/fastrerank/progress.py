"""A step progress bar on stderr, drawn only when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """``with Progress(total, "export") as p: p.step("optimizing")`` draws
    ``export [#####-----] 2/4 optimizing (3.1s)``; silent when not attached to a terminal."""

    def __init__(self, total: int, title: str, stream: TextIO | None = None, width: int = 24) -> None:
        self.total = max(1, total)
        self.title = title
        self.stream = stream or sys.stderr
        self.width = width
        self.done = 0
        self.start = time.perf_counter()
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())

    def step(self, label: str) -> None:
        """Marks the start of the next step, called ``label``."""
        self.done = min(self.done + 1, self.total)
        if not self.enabled:
            return
        filled = round(self.width * self.done / self.total)
        bar = "#" * filled + "-" * (self.width - filled)
        elapsed = time.perf_counter() - self.start
        self.stream.write(f"\r\x1b[2K{self.title} [{bar}] {self.done}/{self.total} {label} ({elapsed:.1f}s)")
        self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
