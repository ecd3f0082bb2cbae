"""Does a call release the GIL? Run it on a worker thread while this thread keeps taking
timestamps: with the GIL held, this thread stalls for (nearly) the whole call, one long gap."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def stall_during(work: Callable[[], object]) -> tuple[float, float]:
    """(how long work() took, the longest gap between this thread's timestamps meanwhile)."""
    window: list[float] = []
    done = threading.Event()

    def run():
        window.append(time.perf_counter())
        work()
        window.append(time.perf_counter())
        done.set()

    samples = []
    worker = threading.Thread(target=run)
    worker.start()
    while not done.is_set():
        samples.append(time.perf_counter())
    worker.join()
    t0, t1 = window
    inside = [t0, *(s for s in samples if t0 < s < t1), t1]
    return t1 - t0, max(b - a for a, b in zip(inside, inside[1:]))
