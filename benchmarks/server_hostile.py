"""Hostile clients against ``fastrerank serve``, on loopback, each case bounded in count and time.

Every case starts its own server process (the stub engine, with a per-call delay where the case
needs a slow model; the server is the real one: uvicorn, the protocol, the app, the batcher),
attacks it, and records every attempt, its result and its verdict (ok / FAIL: the behaviour the
server promises). The cases follow issue 16:

    bomb         rank_fields repeated (the memory bomb), and 2 MiB of object documents: RSS before
                 and after, and /health's latency meanwhile
    drain        SIGTERM with a queue longer than --drain-timeout, then requests until the listener
                 closes: every request answered (200 or 503 JSON), none 500 or reset
    overload     open loop at 2.5x the stub's capacity: admitted / refused / timed out, p50 / p99
    too-large    one request more than its deadline allows, into an empty queue; 1,000 empty
                 documents with a long query
    connections  a 64 MB header, slowloris, trickled body, 300 idle sockets, the connection
                 limit, malformed HTTP
    errors       echo of a huge value, non-JSON Content-Type, HEAD
    api-key      an empty --api-key / $FASTRERANK_API_KEY

    python benchmarks/server_hostile.py                 # every case, ~1 minute
    python benchmarks/server_hostile.py overload bomb   # some
    python benchmarks/server_hostile.py --json report.json

Run it against older code too (it needs only ``App``, ``ServerConfig``, ``StubEngine`` and
``runner.run``; settings an older server lacks are left out, and its verdicts say what it does).
Exit status 1 if any verdict is FAIL.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # benchmarks share the tests' helpers
from server_utils import read_response, send_until_refused  # noqa: E402

HOST = "127.0.0.1"
REPORT: list[dict[str, Any]] = []


def record(case: str, attempt: str, result: str, ok: bool) -> bool:
    REPORT.append({"case": case, "attempt": attempt, "result": result, "verdict": "ok" if ok else "FAIL"})
    print(f"{case:12} {'ok' if ok else 'FAIL':4}  {attempt}: {result}", flush=True)
    return ok


# ---- the server under attack, in a child process --------------------------------------------------


def serve(settings: dict[str, Any], delay: float, max_batch_tokens: int) -> None:
    """The child: ``fastrerank serve``'s runner over the stub engine; prints its URL."""
    from fastrerank.server.app import App
    from fastrerank.server.config import ServerConfig
    from fastrerank.server.runner import bind, run
    from fastrerank.server.stub import StubEngine

    known = {f.name for f in dataclasses.fields(ServerConfig)}
    config = ServerConfig(**{k: v for k, v in settings.items() if k in known})
    sock = bind(HOST, 0, 2048)
    print(f"listening on http://{HOST}:{sock.getsockname()[1]}", flush=True)
    run(App(config, StubEngine(delay=delay, max_batch_tokens=max_batch_tokens)), sock)


class Server:
    """A child server process and its address."""

    def __init__(self, settings: dict[str, Any], delay: float = 0.0, max_batch_tokens: int = 1024) -> None:
        spec = json.dumps({"settings": settings, "delay": delay, "max_batch_tokens": max_batch_tokens})
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", spec], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            self.proc.kill()
            raise RuntimeError(f"the server did not start: {line!r} {self.proc.stderr.read() if self.proc.stderr else ''}")
        self.url = line.split()[-1]
        self.port = int(self.url.rsplit(":", 1)[1])
        end = time.monotonic() + 30
        while time.monotonic() < end:
            status = get(self, "/ready")[0]
            if status == 200:
                return
            time.sleep(0.05)
        raise RuntimeError("the server did not become ready")

    def rss(self) -> tuple[int, int]:
        """(resident, peak resident) in MB, from /proc."""
        fields = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                name, _, value = line.partition(":")
                fields[name] = value
        return int(fields["VmRSS"].split()[0]) // 1024, int(fields["VmHWM"].split()[0]) // 1024

    def stop(self, timeout: float = 30) -> tuple[int | None, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return self.proc.returncode, err


@contextlib.contextmanager
def server(settings: dict[str, Any], delay: float = 0.0, max_batch_tokens: int = 1024) -> Iterator[Server]:
    s = Server(settings, delay, max_batch_tokens)
    try:
        yield s
    finally:
        s.stop()


# ---- raw HTTP ---------------------------------------------------------------------------------------


def connect(s: Server, timeout: float = 10) -> socket.socket:
    return socket.create_connection((HOST, s.port), timeout=timeout)


def request(s: Server, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None, timeout: float = 30) -> Any:
    """(status, headers, body) on a new connection; a string naming what happened instead."""
    head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {len(body)}\r\n"
    for name, value in ({"content-type": "application/json"} if headers is None else headers).items():
        head += f"{name}: {value}\r\n"
    try:
        with connect(s, timeout) as sock:
            sock.sendall(head.encode() + b"\r\n" + body)
            got = read_response(sock)
    except OSError as e:
        return type(e).__name__
    return "closed without an answer" if got is None else got


def get(s: Server, path: str) -> Any:
    r = request(s, "GET", path, headers={})
    return r if isinstance(r, tuple) else (0, {}, r.encode())


def post(s: Server, path: str, payload: Any, **kw: Any) -> Any:
    return request(s, "POST", path, json.dumps(payload).encode(), **kw)


def describe(r: Any, limit: int = 100) -> str:
    if isinstance(r, str):
        return r
    status, headers, body = r
    kind = headers.get("content-type", "-")
    text = body[:limit].decode("utf-8", "replace") + ("..." if len(body) > limit else "")
    return f"{status} {kind} ({len(body)} bytes) {text}"


def is_json(r: Any) -> bool:
    if isinstance(r, str) or r[1].get("content-type") != "application/json":
        return False
    try:
        return "message" in json.loads(r[2])
    except ValueError:
        return False


class HealthProbe:
    """Polls /health on one keep-alive connection while a case runs: the longest answer time."""

    def __init__(self, s: Server, seconds: float) -> None:
        self.s, self.end = s, time.monotonic() + seconds
        self.worst = 0.0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with contextlib.suppress(OSError), connect(self.s) as sock:
            while time.monotonic() < self.end:
                start = time.monotonic()
                sock.sendall(f"GET /health HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
                if read_response(sock) is None:
                    return
                self.worst = max(self.worst, time.monotonic() - start)
                time.sleep(0.01)

    def stop(self) -> float:
        self.end = 0
        self.thread.join(timeout=30)
        return self.worst


# ---- the cases ------------------------------------------------------------------------------------


def case_bomb() -> None:
    with server({}) as s:
        before = s.rss()
        probe = HealthProbe(s, 60)
        bomb = {"query": "q", "documents": [{"a": "x" * 1000}] * 40, "rank_fields": ["a"] * 20_000}
        body = json.dumps(bomb).encode()
        start = time.monotonic()
        r = post(s, "/v1/rerank", bomb, timeout=60)
        took = time.monotonic() - start
        worst = probe.stop()
        after = s.rss()
        grew = after[1] - before[1]
        record(
            "bomb",
            f"rank_fields x20000, {len(body) // 1024} kB body",
            f"{describe(r)} in {took:.2f} s; RSS {before[0]} -> {after[0]} MB, peak {before[1]} -> {after[1]} MB; "
            f"/health at worst {1000 * worst:.0f} ms",
            not isinstance(r, str) and r[0] == 400 and grew < 100,
        )
        probe = HealthProbe(s, 60)
        fields = [f"field{i}" for i in range(100)]
        docs, size = [], 0
        while size < 2_000_000 - 30_000:  # object documents just under the 2 MiB body limit
            doc = {f: "w" * 150 for f in fields}
            docs.append(doc)
            size += len(json.dumps(doc))
        before = s.rss()
        start = time.monotonic()
        r = post(s, "/v1/rerank", {"query": "q", "documents": docs, "rank_fields": fields}, timeout=60)
        took = time.monotonic() - start
        worst = probe.stop()
        after = s.rss()
        record(
            "bomb",
            f"{len(docs)} object documents x 100 fields, 2 MiB body",
            f"{describe(r, 60)} in {took:.2f} s; peak RSS {before[1]} -> {after[1]} MB; /health at worst {1000 * worst:.0f} ms",
            not isinstance(r, str) and r[0] in (200, 400, 413, 429) and after[1] - before[1] < 200,
        )


def case_drain() -> None:
    settings = {"drain_timeout": 2.0, "min_drain_time": 1.0}
    s = Server(settings, delay=0.3, max_batch_tokens=42)  # 6 rows of 7 tokens a step: one request a step
    results: list[Any] = []

    def client() -> None:
        results.append(post(s, "/v2/rerank", {"query": "q", "documents": ["a b c"] * 6}, timeout=30))

    clients = [threading.Thread(target=client) for _ in range(30)]  # 9 s of work
    for c in clients:
        c.start()
    time.sleep(0.5)
    sigterm = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    late: list[tuple[float, Any]] = []
    body = json.dumps({"query": "q", "documents": ["word " * 200] * 40}).encode()  # 40 kB, answered before it is read
    request_bytes = f"POST /v2/rerank HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n".encode()
    request_bytes += f"Content-Length: {len(body)}\r\n\r\n".encode() + body

    def prober() -> None:
        """Requests back to back on a kept-alive connection until the listener refuses; at most
        2,000 and 15 s."""
        late.extend(send_until_refused(lambda: connect(s, 5), request_bytes, since=sigterm, seconds=15, most=2000))

    probers = [threading.Thread(target=prober) for _ in range(8)]
    for t in probers:
        t.start()
    for t in probers:
        t.join(timeout=60)
    for c in clients:
        c.join(timeout=30)
    code, _ = s.stop()
    counts: dict[str, int] = {}
    for r in results:
        key = r if isinstance(r, str) else f"{r[0]} {'JSON' if is_json(r) else r[1].get('content-type', '-')}"
        counts[key] = counts.get(key, 0) + 1
    record(
        "drain",
        "30 queued (9 s of work), SIGTERM, --drain-timeout 2",
        f"{counts}; exit status {code}",
        all(not isinstance(r, str) and (r[0] == 200 or (r[0] == 503 and is_json(r))) for r in results) and code == 0,
    )
    answered = [t for t, r in late if not isinstance(r, str)]
    failed = [(round(t, 2), r) for t, r in late if isinstance(r, str) and not r.startswith("not connected")]
    refused_at = next((t for t, r in late if isinstance(r, str) and r.startswith("not connected")), None)
    statuses = sorted({r[0] for _, r in late if not isinstance(r, str)})
    record(
        "drain",
        f"{len(late)} requests from 8 clients after SIGTERM (40 kB bodies, connections kept while the server keeps them)",
        f"answered {len(answered)} ({statuses}), last at {max(answered, default=0):.2f} s; listener closed at "
        f"{refused_at if refused_at is None else round(refused_at, 2)} s; sent but reset or unanswered: {len(failed)} {failed[:5]}",
        not failed and max(answered, default=0) >= 0.9,
    )


def case_overload(seconds: float = 5.0) -> None:
    # 4 documents of 7-token rows, 2 requests a 56-token step, 0.05 s a step: ~40 requests/s
    delay, timeout = 0.05, 2.0
    capacity = 2 / delay
    rate = 2.5 * capacity
    with server({"request_timeout": timeout}, delay=delay, max_batch_tokens=56) as s:
        outcomes: list[tuple[Any, float]] = []
        lock = threading.Lock()

        def one(i: int) -> None:
            start = time.monotonic()
            r = post(s, "/v2/rerank", {"query": "q", "documents": [f"a{i} b c"] * 4}, timeout=30)
            with lock:
                outcomes.append((r, time.monotonic() - start))

        threads = []
        start = time.monotonic()
        for i in range(int(rate * seconds)):
            at = start + i / rate
            time.sleep(max(0.0, at - time.monotonic()))
            t = threading.Thread(target=one, args=(i,), daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            t.join(timeout=60)
    admitted = sorted(t for r, t in outcomes if not isinstance(r, str) and r[0] == 200)
    refused = sum(1 for r, _ in outcomes if not isinstance(r, str) and r[0] in (413, 429))
    timed_out = sum(1 for r, _ in outcomes if not isinstance(r, str) and r[0] == 503)
    other = len(outcomes) - len(admitted) - refused - timed_out

    def pct(p: float) -> float:
        return 1000 * admitted[min(len(admitted) - 1, math.ceil(p / 100 * len(admitted)) - 1)] if admitted else float("nan")

    record(
        "overload",
        f"{len(outcomes)} requests at {rate:.0f}/s for {seconds:g} s (capacity ~{capacity:.0f}/s), --request-timeout {timeout:g}",
        f"admitted {len(admitted)} ({len(admitted) / seconds:.1f}/s), refused {refused}, timed out {timed_out}, other {other}; "
        f"admitted p50 {pct(50):.0f} ms, p99 {pct(99):.0f} ms",
        timed_out == 0 and other == 0 and len(admitted) >= 0.5 * capacity * seconds,
    )


def case_too_large() -> None:
    with server({"request_timeout": 2.0}, delay=0.05, max_batch_tokens=56) as s:
        start = time.monotonic()
        r = post(s, "/v2/rerank", {"query": "q", "documents": ["a b c"] * 1000})  # 125 steps: 6 s
        took = time.monotonic() - start
        record(
            "too-large",
            "1,000 documents (6 s of work) into an empty queue, --request-timeout 2",
            f"{describe(r, 160)} after {took:.2f} s",
            not isinstance(r, str) and r[0] == 413 and took < 1,
        )
        start = time.monotonic()
        r = post(s, "/v2/rerank", {"query": " ".join(["long"] * 2000), "documents": [""] * 1000})  # 6 kB body
        took = time.monotonic() - start
        record(
            "too-large",
            "1,000 empty documents, a 2,000-word query (each a full row of query tokens)",
            f"{describe(r, 160)} after {took:.2f} s",
            not isinstance(r, str) and (r[0] in (413, 429) or (r[0] == 200 and took < 2)),
        )


def trickle(sock: socket.socket, piece: Callable[[int], bytes], every: float = 0.5, most: int = 24) -> tuple[Any, float]:
    """Sends ``piece(i)`` every ``every`` seconds (at most ``most`` times) until the server
    answers or closes; (what it did, seconds)."""
    start = time.monotonic()
    r: Any = f"still open after {every * most:g} s"
    for i in range(most):
        try:
            sock.sendall(piece(i))
            sock.settimeout(every)
            got = read_response(sock)
            r = got if got is not None else "closed without an answer"
            break
        except TimeoutError:
            continue
        except OSError as e:
            r = type(e).__name__
            break
    return r, time.monotonic() - start


def case_connections() -> None:
    settings = {"header_timeout": 2.0, "body_timeout": 2.0, "max_connections": 200}
    with server(settings) as s:
        # a 64 MB header
        before = s.rss()
        sent = [0]
        with connect(s, 30) as sock:

            def flood() -> None:
                try:
                    sock.sendall(f"GET /health HTTP/1.1\r\nHost: {HOST}\r\nX-Big: ".encode())
                    for _ in range(1024):
                        sock.sendall(b"a" * 65536)
                        sent[0] += 65536
                except OSError:
                    pass

            start = time.monotonic()
            sender = threading.Thread(target=flood, daemon=True)
            sender.start()
            try:
                r: Any = read_response(sock) or "closed without an answer"
            except OSError as e:
                r = type(e).__name__
            took = time.monotonic() - start
            sender.join(timeout=90)
        after = s.rss()
        record(
            "connections",
            "a 64 MB header",
            f"{describe(r)} after {took:.2f} s, {sent[0] >> 20} MB sent by then or after; peak RSS {before[1]} -> {after[1]} MB",
            not isinstance(r, str) and r[0] == 431 and is_json(r) and after[1] - before[1] < 50,
        )
        with connect(s, 5) as sock:
            sock.sendall(f"GET /health HTTP/1.1\r\nHost: {HOST}\r\n".encode())
            r, took = trickle(sock, lambda i: b"X-%d: b\r\n" % i)
        ok = not isinstance(r, str) and r[0] == 408
        record("connections", "slowloris, a header line every 0.5 s", f"{describe(r)} after {took:.1f} s", ok)
        with connect(s, 5) as sock:
            sock.sendall(f"POST /v2/rerank HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n".encode())
            sock.sendall(b"Content-Length: 1000\r\n\r\n")
            r, took = trickle(sock, lambda i: b" ")
        ok = not isinstance(r, str) and r[0] == 408
        record("connections", "a body trickled a byte every 0.5 s", f"{describe(r)} after {took:.1f} s", ok)
        # idle sockets, past the connection limit
        idle = []
        for _ in range(300):
            with contextlib.suppress(OSError):
                idle.append(connect(s, 5))
        time.sleep(0.3)
        extra = get(s, "/health")
        record(
            "connections",
            "300 idle sockets (limit 200), then one request",
            describe(extra),
            (extra[0] == 503 and is_json(extra)) or extra[0] == 200,
        )
        time.sleep(settings["header_timeout"] + 1)
        open_ones = 0
        for sock in idle:
            sock.settimeout(0.01)
            try:
                if sock.recv(1) == b"":
                    continue
            except TimeoutError:
                open_ones += 1
            except OSError:
                continue
        for sock in idle:
            sock.close()
        fresh = get(s, "/health")
        record(
            "connections",
            "the 300 idle sockets 3 s later",
            f"{300 - open_ones} closed by the server, {open_ones} open; a new client: {describe(fresh, 40)}",
            open_ones == 0 and fresh[0] == 200,
        )
        for raw in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", b"\x00" * 64):
            try:
                with connect(s, 5) as sock:
                    sock.sendall(raw)
                    r = read_response(sock) or "closed without an answer"
            except OSError as e:
                r = type(e).__name__
            record("connections", f"malformed HTTP {raw[:20]!r}", describe(r), not isinstance(r, str) and r[0] == 400 and is_json(r))


def case_errors() -> None:
    with server({}) as s:
        r = post(s, "/rerank", {"query": "q", "texts": ["a"], "truncation_direction": "Up" * 500_000})
        record("errors", "a 1 MB enum value", describe(r, 60), not isinstance(r, str) and r[0] == 400 and len(r[2]) < 5000)
        fields = [f"f{i}" * 2000 for i in range(100)]
        r = post(s, "/v1/rerank", {"query": "q", "documents": [{"a": 1}], "rank_fields": fields})
        record(
            "errors", "100 missing 8 kB rank_fields", describe(r, 60), not isinstance(r, str) and r[0] in (400, 422) and len(r[2]) < 5000
        )
        for kind in ("text/plain", "application/x-www-form-urlencoded", None):
            headers = {} if kind is None else {"content-type": kind}
            r = post(s, "/v2/rerank", {"query": "q", "documents": ["a"]}, headers=headers)
            record("errors", f"a JSON body sent as {kind or 'no Content-Type'}", describe(r, 80), not isinstance(r, str) and r[0] == 415)
        r = request(s, "HEAD", "/health", headers={})
        record("errors", "HEAD /health", describe(r), not isinstance(r, str) and r[0] == 200 and r[2] == b"")


def case_api_key() -> None:
    env = {k: v for k, v in os.environ.items() if k != "FASTRERANK_API_KEY"}
    for args, extra, what in ((["--api-key", ""], {}, '--api-key ""'), ([], {"FASTRERANK_API_KEY": ""}, 'FASTRERANK_API_KEY=""')):
        proc = subprocess.Popen(
            [sys.executable, "-m", "fastrerank", "serve", "--stub-engine", "--host", HOST, "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env | extra,
        )
        try:
            out, err = proc.communicate(timeout=5)
            result = f"exit {proc.returncode}: {err.strip()[:160]}"
            ok = proc.returncode == 2 and "empty" in err
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
            lines = [line for line in out.splitlines() if "ready" in line]
            result = f"served (without a key): {lines[:1]}"
            ok = False
        record("api-key", what, result, ok)


CASES: dict[str, Callable[[], None]] = {
    "bomb": case_bomb,
    "drain": case_drain,
    "overload": case_overload,
    "too-large": case_too_large,
    "connections": case_connections,
    "errors": case_errors,
    "api-key": case_api_key,
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("cases", nargs="*", choices=[*CASES, []], help="cases to run (default: all)")
    p.add_argument("--json", metavar="PATH", help="also write the report here")
    p.add_argument("--serve", metavar="SPEC", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve:
        spec = json.loads(args.serve)
        serve(spec["settings"], spec["delay"], spec["max_batch_tokens"])
        return 0
    for name in args.cases or list(CASES):
        start = time.monotonic()
        try:
            CASES[name]()
        except Exception as e:  # a case that cannot run is a failed case, not a crash of the others
            record(name, "the case", f"could not run: {type(e).__name__}: {e}", False)
        print(f"{name:12} ({time.monotonic() - start:.1f} s)", flush=True)
    failed = sum(r["verdict"] == "FAIL" for r in REPORT)
    print(f"{len(REPORT)} attempts, {failed} FAIL", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(REPORT, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
