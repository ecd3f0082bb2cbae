"""Prometheus metrics in the text exposition format, without a client library.

Counters and histograms are updated from the event loop and from the engine thread, so each
takes a lock; gauges that mirror state (queue depth) are read from that state at scrape time.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Callable, Iterable, Sequence

__all__ = ["Counter", "Gauge", "Histogram", "Metrics", "Registry"]

DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
TOKEN_BUCKETS = (64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536)


def _labels(names: Sequence[str], values: Sequence[str]) -> str:
    if not names:
        return ""
    inner = ",".join(f'{n}="{_escape(str(v))}"' for n, v in zip(names, values))
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


class Counter:
    """A monotonically increasing count per label set."""

    kind = "counter"

    def __init__(self, name: str, help: str, labels: Sequence[str] = ()) -> None:
        self.name, self.help, self.label_names = name, help, tuple(labels)
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def samples(self) -> Iterable[str]:
        with self._lock:
            items = sorted(self._values.items())
        for labels, v in items:
            yield f"{self.name}{_labels(self.label_names, labels)} {_number(v)}"


class Gauge:
    """A value read at scrape time from the state it mirrors (0 until :meth:`read_from`)."""

    kind = "gauge"

    def __init__(self, name: str, help: str) -> None:
        self.name, self.help, self.label_names = name, help, ()
        self._read: Callable[[], float] = lambda: 0.0

    def read_from(self, read: Callable[[], float]) -> None:
        """Read the value from ``read`` at every scrape from now on."""
        self._read = read

    def samples(self) -> Iterable[str]:
        yield f"{self.name} {_number(float(self._read()))}"


class Histogram:
    """Observations counted into cumulative buckets, with their sum and count."""

    kind = "histogram"

    def __init__(self, name: str, help: str, buckets: Sequence[float], labels: Sequence[str] = ()) -> None:
        self.name, self.help, self.label_names = name, help, tuple(labels)
        self.buckets = tuple(buckets)
        self._series: dict[tuple[str, ...], list[float]] = {}  # per label set: counts..., sum
        self._lock = threading.Lock()

    def observe(self, value: float, *labels: str) -> None:
        i = bisect.bisect_left(self.buckets, value)
        with self._lock:
            series = self._series.get(labels)
            if series is None:
                series = self._series[labels] = [0.0] * (len(self.buckets) + 2)
            series[i] += 1
            series[-1] += value

    def samples(self) -> Iterable[str]:
        with self._lock:
            items = sorted((k, list(v)) for k, v in self._series.items())
        names = (*self.label_names, "le")
        for labels, series in items:
            cumulative = 0.0
            for bound, count in zip((*self.buckets, math.inf), series):
                cumulative += count
                yield f"{self.name}_bucket{_labels(names, (*labels, _number(bound)))} {_number(cumulative)}"
            yield f"{self.name}_sum{_labels(self.label_names, labels)} {_number(series[-1])}"
            yield f"{self.name}_count{_labels(self.label_names, labels)} {_number(cumulative)}"


class Registry:
    """An ordered set of metrics rendered together."""

    def __init__(self) -> None:
        self._metrics: list[Counter | Gauge | Histogram] = []

    def add(self, metric):  # type: ignore[no-untyped-def]
        self._metrics.append(metric)
        return metric

    def names(self) -> list[str]:
        """Every metric's name, in order (a histogram's, without ``_bucket``/``_sum``/``_count``)."""
        return [m.name for m in self._metrics]

    def render(self) -> bytes:
        lines: list[str] = []
        for m in self._metrics:
            lines.append(f"# HELP {m.name} {m.help}")
            lines.append(f"# TYPE {m.name} {m.kind}")
            lines.extend(m.samples())
        return ("\n".join(lines) + "\n").encode()


class Metrics:
    """Every metric the server exposes on ``/metrics``. The queue gauges read the batcher."""

    def __init__(self) -> None:
        r = self.registry = Registry()
        self.requests = r.add(
            Counter("fastrerank_requests_total", "HTTP requests answered, by route and status code.", ("route", "status"))
        )
        self.refused = r.add(
            Counter(
                "fastrerank_refused_total",
                "Requests and connections the HTTP layer refused before the application saw them "
                "(400 malformed, 408 too slow, 431 head too large, 503 too many connections), by status code.",
                ("status",),
            )
        )
        self.request_seconds = r.add(
            Histogram(
                "fastrerank_request_duration_seconds",
                "Time from the request's arrival to its answer, by route.",
                DURATION_BUCKETS,
                ("route",),
            )
        )
        self.tokenize_seconds = r.add(
            Histogram(
                "fastrerank_tokenize_duration_seconds", "Tokenizing one request's query and documents at admission.", DURATION_BUCKETS
            )
        )
        self.queue_seconds = r.add(
            Histogram(
                "fastrerank_queue_duration_seconds", "Time from admission until a request's first pairs reach the model.", DURATION_BUCKETS
            )
        )
        # A step: the pairs the batcher gathers from the waiting requests for one engine call,
        # which the engine cuts into model batches of its own max_batch_tokens.
        self.step_seconds = r.add(
            Histogram("fastrerank_step_duration_seconds", "One batcher step in the engine (pack, model calls, scores).", DURATION_BUCKETS)
        )
        self.step_pairs = r.add(Histogram("fastrerank_step_pairs", "(query, document) pairs per batcher step.", SIZE_BUCKETS))
        self.step_requests = r.add(
            Histogram("fastrerank_step_requests", "Distinct requests whose pairs share one batcher step.", SIZE_BUCKETS)
        )
        self.step_tokens = r.add(
            Histogram(
                "fastrerank_step_tokens", "Padded tokens per batcher step (rows x longest row), before the engine cuts it.", TOKEN_BUCKETS
            )
        )
        self.queue_pairs = r.add(Gauge("fastrerank_queue_pairs", "Pairs admitted and waiting for the model."))
        self.queue_tokens = r.add(Gauge("fastrerank_queue_tokens", "Tokens (all windows, special tokens included) of the waiting pairs."))
        self.queue_requests = r.add(Gauge("fastrerank_queue_requests", "Requests with pairs waiting for the model."))
        self.active_requests = r.add(Gauge("fastrerank_active_requests", "Requests admitted and not yet answered."))
        self.throughput = r.add(
            Gauge("fastrerank_throughput_tokens_per_second", "Measured wall-clock throughput that admission predicts from.")
        )
        self.ready = r.add(Gauge("fastrerank_ready", "1 when the model is loaded and the server is not draining."))
        self.draining = r.add(Gauge("fastrerank_draining", "1 while shutting down."))

    def render(self) -> bytes:
        return self.registry.render()
