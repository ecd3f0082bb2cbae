"""Continuous batching: pairs from every waiting request share the engine's batches.

The event loop admits requests (:meth:`Batcher.submit`): each is already tokenized and costed
(:mod:`fastrerank.server.admission`). A batching task on the same loop repeats:

1. take pairs for one batch: lowest ``priority`` first; within a priority, requests in
   round-robin order, each giving its next documents (longest first) until the batch's padded
   tokens (rows x longest row) would pass the step budget (the engine's ``max_batch_tokens``
   by default). A request that gave pairs and still has more goes to the back of the round;
   the batch is filled from the next requests, so a lone small request never waits for a
   fixed delay and a large one cannot hold the engine for its whole length.
2. score them in one ``score_encoded`` call on the engine thread (the engine cuts the step
   into model batches of its own ``max_batch_tokens``; the GIL is released while the model
   runs, so the loop keeps admitting meanwhile), then answer every request whose documents
   are all scored.

All queue state lives on the event loop, so it needs no lock; only the scoring call runs on
the engine thread, and it only writes the scores of the pairs it was given.

Bounds: the queue holds at most ``max_queue_pairs`` pairs and ``max_queue_tokens`` tokens
(an empty queue always admits one request); past either, or when the queue already holds more
work than a request's deadline leaves time for, :meth:`submit` raises
:class:`~fastrerank.server.outcomes.Overloaded` with a retry delay from the measured throughput.
A request whose deadline passes or whose client goes away (:meth:`cancel`) leaves the queue at
once; its pairs already on the model finish and are dropped. The queue speaks in domain
outcomes (:mod:`fastrerank.server.outcomes`); the application maps them to HTTP.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from fastrerank.engine import Engine
from fastrerank.server.admission import Prepared
from fastrerank.server.metrics import Metrics
from fastrerank.server.outcomes import DeadlinePassed, EngineFailed, NotServed, Overloaded, ShuttingDown

__all__ = ["Batcher", "Job", "observe_step", "score_parts"]

QUEUED, DISPATCHED, FINISHED = 0, 1, 2


class Job:
    """One admitted request: its prepared pairs, how far they have gone, and their scores
    (in input order) once scored."""

    __slots__ = (
        "prep",
        "priority",
        "deadline",
        "normalize",
        "future",
        "next",
        "done",
        "state",
        "admitted",
        "scores",
        "windows",
    )

    def __init__(self, prep: Prepared, *, priority: int = 0, deadline: float = math.inf, normalize: str | None = None) -> None:
        self.prep = prep
        self.priority = priority
        self.deadline = deadline  # time.monotonic() by which the answer must be ready
        self.normalize = normalize  # None: the engine's; "none": raw logits
        self.future: asyncio.Future[Job] | None = None
        self.next = 0  # first document (dispatch order) not yet sent to the engine
        self.done = 0  # documents scored
        self.state = QUEUED
        self.admitted = 0.0
        n = prep.n_docs
        self.scores = np.zeros(n, dtype=np.float32)
        self.windows = np.zeros(n, dtype=np.int32)

    @property
    def pending_pairs(self) -> int:
        return self.prep.n_docs - self.next

    @property
    def pending_tokens(self) -> int:
        return int(self.prep.cum_tokens[-1] - self.prep.cum_tokens[self.next])


class Batcher:
    """The bounded queue of admitted requests, the batching task, and the engine thread.
    Every method is called on the event loop that called :meth:`start`."""

    def __init__(
        self,
        engine: Engine,
        *,
        step_tokens: int | None = None,
        max_queue_pairs: int = 10_000,
        max_queue_tokens: int = 2_000_000,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.step_tokens = int(step_tokens or engine.max_batch_tokens)
        self.max_queue_pairs = max_queue_pairs
        self.max_queue_tokens = max_queue_tokens
        self.metrics = metrics or Metrics()
        self._clock = clock
        self._levels: dict[int, deque[Job]] = {}
        self.queued_pairs = 0
        self.queued_tokens = 0
        self._tokens_at: dict[int, int] = {}  # queued tokens per priority
        self.queued_requests = 0
        self.active = 0  # admitted, not yet answered
        self.tokens_per_second = 0.0  # measured engine throughput (EWMA), 0 until known
        self._accepting = True
        self._engine_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fastrerank-engine")
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Starts the batching task on the running loop."""
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="fastrerank-batcher")

    def submit(self, job: Job) -> asyncio.Future[Job]:
        """Queues ``job``; returns the future its answer will settle. Raises ShuttingDown while
        draining, Overloaded when the queue is full."""
        assert self._wake is not None, "start() first"
        if not self._accepting:
            raise ShuttingDown("the server is shutting down; retry on another replica")
        pairs, tokens = job.prep.n_docs, job.prep.tokens
        if self.queued_requests:
            self._check_room(pairs, tokens, job)
        job.future = asyncio.get_running_loop().create_future()
        job.admitted = self._clock()
        if pairs == 0:
            job.state = FINISHED
            job.future.set_result(job)
            return job.future
        self.active += 1
        self._levels.setdefault(job.priority, deque()).append(job)
        self.queued_pairs += pairs
        self._count_tokens(job.priority, tokens)
        self.queued_requests += 1
        self._wake.set()
        return job.future

    def _count_tokens(self, priority: int, tokens: int) -> None:
        self.queued_tokens += tokens
        left = self._tokens_at.get(priority, 0) + tokens
        if left:
            self._tokens_at[priority] = left
        else:
            self._tokens_at.pop(priority, None)

    def _check_room(self, pairs: int, tokens: int, job: Job) -> None:
        full = None
        if self.queued_pairs + pairs > self.max_queue_pairs:
            full = f"the queue is full ({self.queued_pairs} pairs waiting, at most {self.max_queue_pairs})"
        elif self.queued_tokens + tokens > self.max_queue_tokens:
            full = f"the queue is full ({self.queued_tokens} tokens waiting, at most {self.max_queue_tokens})"
        elif self.tokens_per_second > 0:
            # only the work served before this request counts: its priority and lower values
            ahead = sum(t for p, t in self._tokens_at.items() if p <= job.priority)
            wait = (ahead + tokens) / self.tokens_per_second
            if self._clock() + wait > job.deadline:
                full = f"the queue holds about {wait:.1f} s of work, more than this request's deadline leaves"
        if full is not None:
            raise Overloaded(f"{full}; retry later", self.retry_after())

    def retry_after(self) -> int:
        """Seconds until the queue has likely drained (1 to 60)."""
        if self.tokens_per_second <= 0:
            return 1
        return max(1, min(60, math.ceil(self.queued_tokens / self.tokens_per_second)))

    def cancel(self, job: Job, error: BaseException | None = None) -> None:
        """Takes ``job`` out (its client left, or its deadline passed): its waiting pairs leave
        the queue, and its future gets ``error`` (or is cancelled)."""
        if job.state == FINISHED:
            return
        if job.state == QUEUED:
            self.queued_pairs -= job.pending_pairs
            self._count_tokens(job.priority, -job.pending_tokens)
            self.queued_requests -= 1
            level = self._levels.get(job.priority)
            if level is not None:
                try:
                    level.remove(job)
                except ValueError:
                    pass  # taken out by the batch being selected
                if not level:
                    self._levels.pop(job.priority, None)
        job.state = FINISHED
        self.active -= 1
        if job.future is not None and not job.future.done():
            if error is None:
                job.future.cancel()
            else:
                job.future.set_exception(error)

    def stop_accepting(self) -> None:
        """Refuse new requests from now on (503); queued ones are still served."""
        self._accepting = False

    async def close(self, timeout: float | None = None) -> None:
        """Stops after the queue has drained; requests still waiting after ``timeout``
        seconds are answered 503."""
        self.stop_accepting()
        end = None if timeout is None else self._clock() + timeout
        while self.active and (end is None or self._clock() < end):
            await asyncio.sleep(0.01)
        for level in list(self._levels.values()):
            for job in list(level):
                self.cancel(job, NotServed("the server shut down before this request was served"))
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        self._engine_thread.shutdown(wait=False)  # a batch still in the engine must not block the event loop

    # ---- the batching task -------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            if not self._levels:
                self._wake.clear()
                await self._wake.wait()
                continue
            step = self._select()
            if not step:
                continue
            try:
                seconds, tokens = await loop.run_in_executor(self._engine_thread, score_parts, self.engine, step)
            except asyncio.CancelledError:  # close() gave up waiting: answer this batch's requests too
                for job, _, _ in step:
                    self.cancel(job, NotServed("the server shut down before this request was served"))
                raise
            except Exception as e:  # an engine failure answers this step's requests, not the server
                error = EngineFailed(f"the engine failed on this request: {type(e).__name__}: {e}")
                for job, _, _ in step:
                    self.cancel(job, error)
                continue
            self._finish(step, seconds, tokens)

    def _select(self) -> list[tuple[Job, int, int]]:
        """Pairs for one batch: (job, first, end) ranges of each job's dispatch order."""
        now = self._clock()
        budget = self.step_tokens
        rows = longest = 0
        step: list[tuple[Job, int, int]] = []
        full = False
        for priority in sorted(self._levels):
            level = self._levels.get(priority)
            if level is None:
                continue
            served: list[Job] = []
            while level and not full:
                job = level.popleft()
                if job.deadline <= now:
                    self.cancel(
                        job, DeadlinePassed("the request's deadline passed while it was queued; retry later, or raise --request-timeout")
                    )
                    continue
                prep, first = job.prep, job.next
                end = first
                while end < prep.n_docs:
                    r = rows + int(prep.rows[end])
                    m = max(longest, int(prep.row_len[end]))
                    if r * m > budget and (step or end > first):
                        full = True
                        break
                    rows, longest = r, m
                    end += 1
                if end == first:
                    level.appendleft(job)
                    break
                step.append((job, first, end))
                self.queued_pairs -= end - first
                self._count_tokens(priority, -int(prep.cum_tokens[end] - prep.cum_tokens[first]))
                job.next = end
                if first == 0:
                    self.metrics.queue_seconds.observe(now - job.admitted)
                if end < prep.n_docs:
                    served.append(job)
                else:
                    job.state = DISPATCHED
                    self.queued_requests -= 1
            level.extend(served)  # round-robin: who was served goes to the back
            if level:
                self._levels[priority] = level
            else:
                self._levels.pop(priority, None)
            if full:
                break
        if step:
            self.metrics.step_tokens.observe(rows * longest)
        return step

    def _finish(self, step: list[tuple[Job, int, int]], seconds: float, tokens: int) -> None:
        observe_step(self.metrics, step, seconds)
        if seconds > 0:
            rate = tokens / seconds
            self.tokens_per_second = rate if self.tokens_per_second == 0 else 0.8 * self.tokens_per_second + 0.2 * rate
        for job, first, end in step:
            job.done += end - first
            if job.done == job.prep.n_docs and job.state != FINISHED:
                job.state = FINISHED
                self.active -= 1
                assert job.future is not None
                if not job.future.done():
                    job.future.set_result(job)


def score_parts(engine: Engine, parts: Sequence[tuple[Job, int, int]]) -> tuple[float, int]:
    """Scores pairs ``first:end`` (dispatch order) of each part's job into the job's ``scores``
    and ``windows``, all parts together (one engine call per normalisation asked for); returns
    (seconds in the engine, tokens scored). Blocking: call it off the event loop."""
    by_normalize: dict[str | None, list[tuple[Job, int, int]]] = {}
    for part in parts:
        by_normalize.setdefault(part[0].normalize, []).append(part)
    seconds = 0.0
    for normalize, group in by_normalize.items():
        requests = [job.prep.request.subset(job.prep.order[first:end]) for job, first, end in group]
        start = time.perf_counter()
        scored = engine.score_encoded(requests, normalize=normalize)
        seconds += time.perf_counter() - start
        for (job, first, end), s in zip(group, scored):
            where = job.prep.order[first:end]
            job.scores[where] = s.scores
            job.windows[where] = s.windows
    return seconds, sum(int(job.prep.cum_tokens[end] - job.prep.cum_tokens[first]) for job, first, end in parts)


def observe_step(metrics: Metrics, parts: Sequence[tuple[Job, int, int]], seconds: float) -> None:
    """Counts one scored step in ``metrics``: its seconds in the engine, pairs and requests."""
    metrics.step_seconds.observe(seconds)
    metrics.step_pairs.observe(sum(end - first for _, first, end in parts))
    metrics.step_requests.observe(len({id(job) for job, _, _ in parts}))
