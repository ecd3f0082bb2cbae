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
(an empty queue always admits one request), and it admits no work that cannot finish by its
deadline: from the measured wall-clock throughput (tokens scored per second of a step, from
selecting its pairs to its scores back on the loop, seeded by :meth:`Batcher.calibrate`) with a
margin, a request is refused with :class:`~fastrerank.server.outcomes.TooMuchWork` when it alone
needs more time than its deadline leaves, and with
:class:`~fastrerank.server.outcomes.Overloaded` (a retry delay from the same throughput) when
the work served before it, or its own work added ahead of a queued request's, would pass a
deadline. A request whose deadline passes anyway or whose client goes away (:meth:`cancel`)
leaves the queue at once; its pairs already on the model finish and are dropped. The queue
speaks in domain outcomes (:mod:`fastrerank.server.outcomes`); the application maps them to HTTP.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from fastrerank.engine import DocumentLimits, Engine
from fastrerank.server.admission import Prepared, prepare
from fastrerank.server.metrics import Metrics
from fastrerank.server.outcomes import DeadlinePassed, EngineFailed, Overloaded, ShuttingDown, TooMuchWork

__all__ = ["ADMISSION_MARGIN", "Batcher", "Job", "observe_step", "score_parts"]

QUEUED, DISPATCHED, FINISHED = 0, 1, 2
# Admission counts work as taking this many times its predicted time: steps vary with their
# rows' lengths and the machine's other load, and a promise to finish must hold through that.
ADMISSION_MARGIN = 1.5
# Each step's share of the throughput estimate decays by this factor per later step (about the
# last five steps count, each in proportion to its time).
THROUGHPUT_DECAY = 0.8
CALIBRATION_SLACK = 16  # tokens a calibration row leaves for its query and special tokens


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
        self.tokens_per_second = 0.0  # measured wall-clock throughput, 0 until known
        self._measured = (0.0, 0.0)  # decayed sums of (tokens, seconds) of the last steps
        self._in_flight = 0  # tokens of the step on the engine
        self._deadlines: dict[int, list[tuple[float, int, Job]]] = {}  # per priority: a heap of queued jobs
        self._order = itertools.count()
        self._accepting = True
        self._engine_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fastrerank-engine")
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Starts the batching task on the running loop."""
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="fastrerank-batcher")

    async def calibrate(self) -> None:
        """Measures the throughput before any request is admitted: one full step of the longest
        rows it can hold (the slowest tokens), scored twice on the engine thread (the first call
        warms the engine up); the second's tokens per second seed the estimate the real steps
        then refine."""
        engine = self.engine
        length = min(engine.max_length, self.step_tokens)
        rows = max(1, self.step_tokens // length)
        # each row: the query, its special tokens and the document's kept part, within `length`
        limits = DocumentLimits(max(1, length - CALIBRATION_SLACK), 1)

        def measure() -> tuple[int, float]:
            request = engine.encode_request("calibration query", ["calibration " * length] * rows, limits)
            engine.score_encoded([request])
            start = time.perf_counter()
            engine.score_encoded([request])
            return prepare(engine, request).tokens, time.perf_counter() - start

        self._measure(*await asyncio.get_running_loop().run_in_executor(self._engine_thread, measure))

    def _measure(self, tokens: int, seconds: float) -> None:
        if seconds <= 0:
            return
        total_tokens, total_seconds = self._measured
        total_tokens = total_tokens * THROUGHPUT_DECAY + tokens
        total_seconds = total_seconds * THROUGHPUT_DECAY + seconds
        self._measured = (total_tokens, total_seconds)
        self.tokens_per_second = total_tokens / total_seconds

    def submit(self, job: Job) -> asyncio.Future[Job]:
        """Queues ``job``; returns the future its answer will settle. Raises ShuttingDown while
        draining, Overloaded when the queue is full or the job would miss a deadline, TooMuchWork
        when it alone cannot make its own."""
        assert self._wake is not None, "start() first"
        if not self._accepting:
            raise ShuttingDown("the server is shutting down; retry on another replica")
        pairs, tokens = job.prep.n_docs, job.prep.tokens
        if self.queued_requests:
            self._check_room(pairs, tokens)
        self._check_time(tokens, job)
        job.future = asyncio.get_running_loop().create_future()
        job.admitted = self._clock()
        if pairs == 0:
            job.state = FINISHED
            job.future.set_result(job)
            return job.future
        self.active += 1
        self._levels.setdefault(job.priority, deque()).append(job)
        heapq.heappush(self._deadlines.setdefault(job.priority, []), (job.deadline, next(self._order), job))
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

    def _check_room(self, pairs: int, tokens: int) -> None:
        full = None
        if self.queued_pairs + pairs > self.max_queue_pairs:
            full = f"the queue is full ({self.queued_pairs} pairs waiting, at most {self.max_queue_pairs})"
        elif self.queued_tokens + tokens > self.max_queue_tokens:
            full = f"the queue is full ({self.queued_tokens} tokens waiting, at most {self.max_queue_tokens})"
        if full is not None:
            raise Overloaded(f"{full}; retry later", self.retry_after())

    def _check_time(self, tokens: int, job: Job) -> None:
        """Refuses ``job`` unless it and every queued request it would delay can finish by their
        deadlines. A request at priority q is done at the latest when all work at q and lower
        values is, the step on the engine included (round-robin shares the model within a
        priority); so admitting a job adds its tokens to that bound for its own priority and every
        priority after it."""
        rate = self.tokens_per_second
        if rate <= 0:
            return  # not measured yet (an App calibrates first): only the queue bounds apply
        now = self._clock()
        left = job.deadline - now
        alone = ADMISSION_MARGIN * tokens / rate
        if alone > left:
            raise TooMuchWork(
                f"this request alone needs about {alone:.1f} s of model time ({tokens} tokens at the measured {rate:.0f} tokens/s, "
                f"with a {ADMISSION_MARGIN:g}x margin), more than the {max(left, 0.0):.1f} s its deadline leaves; "
                "send fewer or shorter documents (or fewer windows), or raise --request-timeout"
            )
        ahead = self._in_flight
        for priority in sorted(self._tokens_at.keys() | {job.priority}):
            ahead += self._tokens_at.get(priority, 0)
            if priority < job.priority:
                continue
            finish = now + ADMISSION_MARGIN * (ahead + tokens) / rate
            if priority == job.priority and finish > job.deadline:
                raise Overloaded(
                    f"the queue holds about {finish - now - alone:.1f} s of work this request would wait for, more than its "
                    f"deadline leaves ({left:.1f} s); retry later",
                    self.retry_after(),
                )
            if finish > self._earliest_deadline(priority):
                raise Overloaded(
                    "the queue is at capacity: this request would make a request already queued miss its deadline; retry later",
                    self.retry_after(),
                )

    def _earliest_deadline(self, priority: int) -> float:
        heap = self._deadlines.get(priority)
        while heap and heap[0][2].state != QUEUED:
            heapq.heappop(heap)
        return heap[0][0] if heap else math.inf

    def retry_after(self) -> int:
        """Seconds until the queue has likely drained (1 to 60)."""
        if self.tokens_per_second <= 0:
            return 1
        return max(1, min(60, math.ceil((self.queued_tokens + self._in_flight) / self.tokens_per_second)))

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
                    self._levels.pop(job.priority, None)  # its deadlines' heap empties lazily
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
        seconds (the batch on the engine included) are answered ShuttingDown."""
        self.stop_accepting()
        end = None if timeout is None else self._clock() + timeout
        while self.active and (end is None or self._clock() < end):
            await asyncio.sleep(0.01)
        for level in list(self._levels.values()):
            for job in list(level):
                self.cancel(job, _shut_down())
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
            start = self._clock()
            step, padded = self._select()
            if not step:
                continue
            self._in_flight = sum(int(job.prep.cum_tokens[end] - job.prep.cum_tokens[first]) for job, first, end in step)
            try:
                seconds = await loop.run_in_executor(self._engine_thread, score_parts, self.engine, step)
            except asyncio.CancelledError:  # close() gave up waiting: answer this batch's requests too
                for job, _, _ in step:
                    self.cancel(job, _shut_down())
                raise
            except Exception as e:  # an engine failure answers this step's requests, not the server
                for job, _, _ in step:
                    failed = EngineFailed("the engine failed on this request")
                    failed.__cause__ = e
                    self.cancel(job, failed)
                continue
            finally:
                tokens, self._in_flight = self._in_flight, 0
            # Only steps at least half full count: a lone small request's step is mostly the
            # model call's fixed cost, which says nothing of how fast a queue drains.
            if 2 * padded >= self.step_tokens or self.tokens_per_second == 0:
                self._measure(tokens, self._clock() - start)
            self._finish(step, seconds)

    def _select(self) -> tuple[list[tuple[Job, int, int]], int]:
        """Pairs for one batch: (job, first, end) ranges of each job's dispatch order, and the
        batch's padded tokens (rows x longest row)."""
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
                self._drop_level(priority)
            if full:
                break
        if step:
            self.metrics.step_tokens.observe(rows * longest)
        return step, rows * longest

    def _drop_level(self, priority: int) -> None:
        self._levels.pop(priority, None)
        self._deadlines.pop(priority, None)

    def _finish(self, step: list[tuple[Job, int, int]], seconds: float) -> None:
        observe_step(self.metrics, step, seconds)
        for job, first, end in step:
            job.done += end - first
            if job.done == job.prep.n_docs and job.state != FINISHED:
                job.state = FINISHED
                self.active -= 1
                assert job.future is not None
                if not job.future.done():
                    job.future.set_result(job)


def _shut_down() -> ShuttingDown:
    return ShuttingDown("the server shut down before this request was served; retry on another replica")


def score_parts(engine: Engine, parts: Sequence[tuple[Job, int, int]]) -> float:
    """Scores pairs ``first:end`` (dispatch order) of each part's job into the job's ``scores``
    and ``windows``, all parts together (one engine call per normalisation asked for); returns
    the seconds in the engine. Blocking: call it off the event loop."""
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
    return seconds


def observe_step(metrics: Metrics, parts: Sequence[tuple[Job, int, int]], seconds: float) -> None:
    """Counts one scored step in ``metrics``: its seconds in the engine, pairs and requests."""
    metrics.step_seconds.observe(seconds)
    metrics.step_pairs.observe(sum(end - first for _, first, end in parts))
    metrics.step_requests.observe(len({id(job) for job, _, _ in parts}))
