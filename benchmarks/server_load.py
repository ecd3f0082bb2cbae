"""Load for ``fastrerank serve``, and the same load on the library called directly.

Open loop at a fixed request rate (the arrival schedule does not wait for answers, so a slow
server builds a queue instead of slowing the load; latency is counted from each request's
scheduled time, so queueing is not hidden), or closed loop with N clients each sending its next
request when the previous one is answered. Every request carries distinct documents (a seeded
mix of lengths). Traffic goes only to the URL given (127.0.0.1 here), and every run stops by
itself after --duration seconds (plus --drain seconds to collect late answers).

    # the server (start it first: fastrerank serve --model DIR --port 8080)
    python benchmarks/server_load.py --url http://127.0.0.1:8080 --docs 10 --rate 8 --duration 60
    python benchmarks/server_load.py --url http://127.0.0.1:8080 --docs 10 --concurrency 4 --duration 60
    # the library, same requests and schedule: one worker thread calls Reranker.rerank in order
    python benchmarks/server_load.py --library DIR --docs 10 --rate 8 --duration 60
    python benchmarks/server_load.py --library DIR --docs 10 --concurrency 1 --duration 60
    # a wrk script with the same bodies, for closed-loop runs with wrk
    python benchmarks/server_load.py --docs 10 --wrk-script /tmp/post10.lua
    wrk -t1 -c4 -d60s -s /tmp/post10.lua http://127.0.0.1:8080/v2/rerank

Prints one JSON line: requests sent, answered 200, failed (by status or error), throughput
(requests and documents per second) and latency percentiles in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import statistics
import sys
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

WORDS = (
    "the of and to in is was for on that with as by at from his an were are which this be or has had not first one their "
    "its new after who they have her she two been other when there all during into school time may years more most only "
    "over city some world would where later up such used many can state about national out known university united then "
    "made year team three both between under government also could series what company history because through group "
    "four being part early well including him five since season before people film album second film river found while "
    "capital country population music village north south east west county district game club members several number "
    "american british french german english war local public system following area town work species family around law "
    "history church based life name born station held high court small former each period long program built field water "
    "support market energy health research policy service return product order email account password price delivery "
    "question answer data model network language computer software science museum bridge island mountain ocean forest"
).split()


def make_requests(n: int, docs: int, seed: int, min_words: int, max_words: int) -> list[tuple[str, list[str]]]:
    """``n`` requests of ``docs`` distinct documents (min_words..max_words words each)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        query = f"request {i}: " + " ".join(rng.choices(WORDS, k=rng.randrange(4, 12)))
        documents = [f"doc {i}.{j} " + " ".join(rng.choices(WORDS, k=rng.randrange(min_words, max_words + 1))) for j in range(docs)]
        out.append((query, documents))
    return out


def body_of(query: str, documents: list[str], route: str) -> bytes:
    if route == "/rerank":
        return json.dumps({"query": query, "texts": documents}).encode()
    return json.dumps({"model": "bench", "query": query, "documents": documents}).encode()


class Connection:
    """One keep-alive HTTP/1.1 connection: send a POST, read the answer (Content-Length)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def post(self, head: bytes, body: bytes) -> tuple[int, bool]:
        """(status, keep-alive)."""
        self.writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
        header = await self.reader.readuntil(b"\r\n\r\n")
        lines = header.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, close = 0, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        await self.reader.readexactly(length)
        return status, not close

    def close(self) -> None:
        self.writer.close()


class Pool:
    """Idle connections, reused; a request takes one or opens a new one. A connection idle for
    longer than ``max_idle`` seconds is closed rather than reused: the server closes idle
    keep-alive connections after a while (uvicorn: 5 s), and a request written into one that
    is closing would fail for a reason that is the client's, not the server's."""

    def __init__(self, url: str, route: str, max_idle: float = 3.0) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.head = f"POST {route} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\nContent-Length: ".encode()
        self.idle: list[tuple[float, Connection]] = []
        self.max_idle = max_idle

    async def _take(self) -> Connection:
        now = time.perf_counter()
        while self.idle:
            since, conn = self.idle.pop()
            if now - since < self.max_idle and not conn.reader.at_eof():
                return conn
            conn.close()
        return await Connection.open(self.host, self.port)

    async def post(self, body: bytes) -> int:
        conn = await self._take()
        try:
            status, keep = await conn.post(self.head, body)
        except BaseException:
            conn.close()
            raise
        if keep:
            self.idle.append((time.perf_counter(), conn))
        else:
            conn.close()
        return status

    def close(self) -> None:
        for _, c in self.idle:
            c.close()


class Tally:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.failures: Counter[str] = Counter()
        self.sent = 0
        self.first = self.last = None

    def done(self, scheduled: float, outcome: str) -> None:
        now = time.perf_counter()
        if outcome == "200":
            self.latencies.append(now - scheduled)
        else:
            self.failures[outcome] += 1
        self.first = now if self.first is None else self.first
        self.last = now

    def report(self, docs: int, duration: float, **extra: Any) -> dict[str, Any]:
        lat = sorted(self.latencies)

        def pct(p: float) -> float | None:
            return round(1000 * lat[min(len(lat) - 1, math.ceil(p / 100 * len(lat)) - 1)], 1) if lat else None

        ok = len(lat)
        return {
            **extra,
            "docs": docs,
            "sent": self.sent,
            "ok": ok,
            "failed": sum(self.failures.values()),
            "failures": dict(self.failures),
            "req_per_s": round(ok / duration, 2),
            "docs_per_s": round(ok * docs / duration, 1),
            "p50_ms": pct(50),
            "p90_ms": pct(90),
            "p99_ms": pct(99),
            "max_ms": round(1000 * lat[-1], 1) if lat else None,
            "mean_ms": round(1000 * statistics.fmean(lat), 1) if lat else None,
        }


async def open_loop(send, n_requests: int, rate: float, duration: float, drain: float, tally: Tally, poisson: bool, seed: int) -> float:
    """Sends request i at its scheduled time, whatever is still pending; returns the window."""
    rng = random.Random(seed + 1)
    start = time.perf_counter() + 0.05
    pending: set[asyncio.Task[None]] = set()

    async def one(i: int, at: float) -> None:
        try:
            outcome = str(await send(i % n_requests))
        except Exception as e:
            outcome = type(e).__name__
        tally.done(at, outcome)

    t = 0.0
    i = 0
    while t < duration:
        at = start + t
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(i, at))
        pending.add(task)
        task.add_done_callback(pending.discard)
        tally.sent += 1
        i += 1
        t += rng.expovariate(rate) if poisson else 1.0 / rate
    if pending:
        done, late = await asyncio.wait(pending, timeout=drain)
        for task in late:
            task.cancel()
        if late:
            tally.failures["unanswered"] += len(late)
    return max(duration, (tally.last or start) - start)


async def closed_loop(send, n_requests: int, concurrency: int, duration: float, tally: Tally) -> float:
    """``concurrency`` clients, each sending its next request as soon as one is answered."""
    start = time.perf_counter()
    end = start + duration
    counter = iter(range(10**9))

    async def client() -> None:
        while time.perf_counter() < end:
            i = next(counter)
            at = time.perf_counter()
            tally.sent += 1
            try:
                outcome = str(await send(i % n_requests))
            except Exception as e:
                outcome = type(e).__name__
            tally.done(at, outcome)

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return time.perf_counter() - start


def library_sender(model: str, requests: list[tuple[str, list[str]]], threads: int | None, workers: int):
    """``send(i)`` that runs Reranker.rerank on ``workers`` threads (FIFO), like a server
    without batching would."""
    from concurrent.futures import ThreadPoolExecutor

    from fastrerank import Reranker

    rr = Reranker(model, threads=threads)
    rr.rerank(requests[0][0], requests[0][1])  # warm up
    pool = ThreadPoolExecutor(max_workers=workers)

    async def send(i: int) -> int:
        q, d = requests[i]
        await asyncio.get_running_loop().run_in_executor(pool, rr.rerank, q, d)
        return 200

    return send


def write_wrk_script(path: str, requests: list[tuple[str, list[str]]], route: str) -> None:
    """A wrk Lua script that sends the bodies in turn (each wrk thread from its own offset)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("-- generated by benchmarks/server_load.py\nlocal bodies = {\n")
        for q, d in requests:
            f.write("  [==[" + body_of(q, d, route).decode() + "]==],\n")
        f.write(
            "}\nlocal i = 0\n"
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            "function setup(thread) thread:set('offset', math.random(#bodies)) end\n"
            "function init(args) i = tonumber(offset) or 0 end\n"
            "function request()\n  i = i % #bodies + 1\n  return wrk.format(nil, nil, nil, bodies[i])\nend\n"
            # one JSON line at the end, in the units and names of this script's own report
            "function done(summary, latency, requests)\n"
            "  local e = summary.errors\n"
            "  local secs = summary.duration / 1e6\n"
            '  io.write(string.format(\'{"target": "wrk", "ok": %d, "failed": %d, "non_2xx": %d, "socket_errors": %d, '
            '"req_per_s": %.2f, "p50_ms": %.1f, "p90_ms": %.1f, "p99_ms": %.1f, "max_ms": %.1f, "mean_ms": %.1f}\\n\', '
            "summary.requests - e.status, e.status + e.connect + e.read + e.write + e.timeout, e.status, "
            "e.connect + e.read + e.write + e.timeout, (summary.requests - e.status) / secs, latency:percentile(50) / 1000, "
            "latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000))\n"
            "end\n"
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    target = p.add_mutually_exclusive_group()
    target.add_argument("--url", help="the server, e.g. http://127.0.0.1:8080 (loopback only)")
    target.add_argument("--library", metavar="MODEL_DIR", help="call Reranker.rerank directly instead")
    p.add_argument("--route", default="/v2/rerank", choices=["/v2/rerank", "/v1/rerank", "/rerank"])
    p.add_argument("--docs", type=int, default=10, help="documents per request (default 10)")
    p.add_argument("--words", default="20,80", help="words per document, min,max (default 20,80)")
    p.add_argument("--requests", type=int, default=200, help="distinct requests, sent in turn (default 200)")
    loop = p.add_mutually_exclusive_group()
    loop.add_argument("--rate", type=float, help="open loop: requests per second")
    loop.add_argument("--concurrency", type=int, help="closed loop: clients")
    p.add_argument("--poisson", action="store_true", help="open loop with exponential gaps instead of even ones")
    p.add_argument("--duration", type=float, default=30.0, help="seconds of sending (default 30)")
    p.add_argument("--drain", type=float, default=60.0, help="open loop: seconds to wait for late answers (default 60)")
    p.add_argument("--threads", type=int, default=None, help="--library: ONNX Runtime threads")
    p.add_argument("--workers", type=int, default=1, help="--library: threads calling rerank (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--wrk-script", metavar="PATH", help="write a wrk Lua script with these requests and exit")
    p.add_argument("--label", default="", help="a label for the JSON line")
    args = p.parse_args(argv)

    lo, hi = (int(x) for x in args.words.split(","))
    requests = make_requests(args.requests, args.docs, args.seed, lo, hi)
    if args.wrk_script:
        write_wrk_script(args.wrk_script, requests, args.route)
        return 0
    if args.rate is None and args.concurrency is None:
        p.error("give --rate (open loop) or --concurrency (closed loop)")

    async def run() -> dict[str, Any]:
        pool = None
        if args.library:
            send = library_sender(args.library, requests, args.threads, args.workers)
            target = "library"
        else:
            if urlsplit(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
                raise SystemExit("server_load.py sends only to this machine's loopback address")
            pool = Pool(args.url, args.route)
            bodies = [body_of(q, d, args.route) for q, d in requests]

            async def send(i: int) -> int:
                return await pool.post(bodies[i])

            target = args.url + args.route
        tally = Tally()
        if args.rate is not None:
            window = await open_loop(send, len(requests), args.rate, args.duration, args.drain, tally, args.poisson, args.seed)
            mode = {"mode": "open", "rate": args.rate}
        else:
            window = await closed_loop(send, len(requests), args.concurrency, args.duration, tally)
            mode = {"mode": "closed", "concurrency": args.concurrency}
        if pool is not None:
            pool.close()
        return tally.report(args.docs, window, label=args.label, target=target, **mode)

    try:
        import uvloop

        result = uvloop.run(run())
    except ImportError:
        result = asyncio.run(run())
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
