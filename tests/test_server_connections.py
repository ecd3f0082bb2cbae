"""The HTTP layer on raw sockets (loopback, every wait bounded): head size cap, timeouts for heads,
bodies and idle sockets, the connection limit, JSON for what the protocol refuses, answers that
reach the client instead of a reset, and the SIGTERM drain (queued requests answered 503 JSON
when it ends, the listener answering for its minimum period, requests sent at the end answered)."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from fastrerank.server.app import App
from fastrerank.server.config import ServerConfig
from fastrerank.server.runner import _draining_server_class, uvicorn_config
from fastrerank.server.stub import StubEngine

from server_utils import live, metrics, read_response, send_until_refused, wait_for

FAST = dict(header_timeout=0.5, body_timeout=0.5, max_header_bytes=4096, max_connections=8, min_drain_time=0.2, drain_timeout=1.0)


@pytest.fixture(scope="module")
def url():
    with live(App(ServerConfig(max_body_bytes=64 * 1024, **FAST), StubEngine())) as u:
        yield u


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=5)


def closed(s: socket.socket) -> bool:
    """True when the server closed ``s`` (within the socket's timeout)."""
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


def post_head(length: int, path: str = "/v2/rerank") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n".encode()


# ---- what the protocol refuses is JSON -----------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b"GARBAGE\r\n\r\n", b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", b"\x00" * 64, b"GET / HTTP/9\r\n\r\n"],
)
def test_malformed_http_is_a_json_400(url, raw):
    with connect(url) as s:
        s.sendall(raw)
        status, headers, body = read_response(s)
    assert status == 400 and headers["content-type"] == "application/json" and headers["connection"] == "close"
    assert json.loads(body)["message"].startswith("malformed HTTP request")
    assert httpx.get(url + "/health").status_code == 200


# ---- bounded heads ------------------------------------------------------------------------------


def test_a_head_over_the_cap_is_431_whether_it_arrives_whole_or_without_end(url):
    with connect(url) as s:  # complete, in one piece
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n")
        status, _, body = read_response(s)
    assert status == 431 and "--max-header-bytes" in json.loads(body)["message"]
    with connect(url) as s:  # a 64 MB header: refused once past the cap, the rest dropped unread
        sent = [0]

        def flood():
            try:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ")
                for _ in range(1024):
                    s.sendall(b"a" * 65536)
                    sent[0] += 65536
            except OSError:
                pass

        sender = threading.Thread(target=flood)
        sender.start()
        status, _, body = read_response(s)
        assert status == 431
        sender.join(timeout=30)
    assert not sender.is_alive()
    m = metrics(url)
    assert m['fastrerank_refused_total{status="431"}'] >= 2
    assert httpx.get(url + "/health").status_code == 200


# ---- timed connections --------------------------------------------------------------------------


def test_slowloris_head_gets_408_and_idle_sockets_are_closed(url):
    with connect(url) as s:
        s.sendall(b"GET /health HTTP/1.1\r\n")
        outcome = None
        for i in range(50):  # a header every 0.1 s, for at most 5 s
            try:
                s.sendall(b"X-%d: b\r\n" % i)
            except OSError:
                break
            s.settimeout(0.1)
            try:
                outcome = read_response(s)
                break
            except TimeoutError:
                continue
        s.settimeout(5)
        if outcome is None:
            outcome = read_response(s)
    assert outcome is not None and outcome[0] == 408 and "--header-timeout" in json.loads(outcome[2])["message"]
    with connect(url) as idle:  # sends nothing
        assert closed(idle)
    with connect(url) as crlf:  # sends only line ends: no head ever starts, the clock still runs
        for _ in range(20):
            try:
                crlf.sendall(b"\r\n")
            except OSError:
                break
            time.sleep(0.1)
        assert closed(crlf)


def test_a_trickled_body_gets_408(url):
    with connect(url) as s:
        s.sendall(post_head(100) + b'{"query": ')
        status, headers, body = read_response(s)
    assert status == 408 and "--body-timeout" in json.loads(body)["message"] and headers["connection"] == "close"
    assert metrics(url)['fastrerank_requests_total{route="/v2/rerank",status="499"}'] >= 1  # the app saw its client go


def test_connections_beyond_the_limit_are_answered_503_and_closed():
    app = App(ServerConfig(**(FAST | dict(max_connections=4, header_timeout=10))), StubEngine())
    with live(app) as u:
        held = [connect(u) for _ in range(4)]
        time.sleep(0.2)
        with connect(u) as extra:
            status, headers, body = read_response(extra)
            assert status == 503 and headers["retry-after"] == "1" and "--max-connections" in json.loads(body)["message"]
        for s in held:
            s.close()
        wait_for(lambda: httpx.get(u + "/health").status_code == 200, what="a free connection")


def test_an_early_answer_reaches_a_client_still_sending_its_body(url):
    # 413 on Content-Length while the client sends 8 MB; the connection closes, the answer arrives
    r = httpx.post(url + "/v2/rerank", content=b" " * (8 << 20), headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == 413 and "--max-body-bytes" in r.json()["message"] and r.headers["connection"] == "close"


# ---- the drain -----------------------------------------------------------------------------------


@contextlib.contextmanager
def draining(app: App) -> Iterator[tuple[str, uvicorn.Server, threading.Thread]]:
    """``fastrerank serve``'s server for ``app`` in a thread; ``server.handle_exit`` is SIGTERM."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    server = _draining_server_class()(uvicorn_config(app), app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_for(lambda: server.started and app.state == "ready", what="the server")
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread
    finally:
        server.force_exit = server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def test_requests_still_queued_when_the_drain_ends_get_503_json():
    app = App(ServerConfig(drain_timeout=1.0, min_drain_time=0.2), StubEngine(delay=0.3, max_batch_tokens=42))
    with draining(app) as (url, server, thread):
        results = []

        def client():
            r = httpx.post(url + "/v2/rerank", json={"query": "q", "documents": ["a b c"] * 6}, timeout=30)  # 0.3 s each
            results.append(r)

        # 40 requests of one 0.3 s step each: at SIGTERM 30 or more (9 s of work) still to serve, longer than
        # the drain and uvicorn's own grace period after it (which used to cancel what was left: plain-text 500s)
        clients = [threading.Thread(target=client) for _ in range(40)]
        for c in clients:
            c.start()
        wait_for(lambda: app.batcher is not None and app.batcher.active >= 30, what="30 queued requests")
        server.handle_exit(signal.SIGTERM, None)
        for c in clients:
            c.join(timeout=30)
        thread.join(timeout=30)
        assert not thread.is_alive()
    statuses = sorted(r.status_code for r in results)
    assert len(results) == 40 and set(statuses) == {200, 503}, statuses
    for r in results:
        if r.status_code == 503:
            assert r.headers["content-type"] == "application/json" and r.headers["connection"] == "close"
            message = r.json()["message"]  # queued when the drain ended, or sent after it began
            assert "shut down before this request was served" in message or "shutting down" in message, message
    assert any("shut down before this request was served" in r.text for r in results)


def test_the_drain_answers_503_for_its_minimum_time_and_answers_what_arrives_at_its_end():
    # a queue longer than the drain (15 requests of one 0.3 s step each), so the drain ends with the
    # loop busy answering what is left, while 8 clients send request after request until refused
    app = App(ServerConfig(drain_timeout=1.5, min_drain_time=1.0), StubEngine(delay=0.3, max_batch_tokens=42))
    body = json.dumps({"query": "q", "documents": ["word " * 200] * 40}).encode()  # 40 kB: the server answers before reading it
    request = post_head(len(body)) + body
    outcomes: list[tuple[float, str]] = []
    with draining(app) as (url, server, thread):
        start = time.monotonic()

        def client():
            """Requests back to back, on one connection while the server keeps it, until refused."""
            for t, r in send_until_refused(lambda: connect(url), request, since=start, seconds=10, most=1000):
                outcomes.append((t, r if isinstance(r, str) else str(r[0])))

        queued = [
            threading.Thread(target=lambda: httpx.post(url + "/v2/rerank", json={"query": "q", "documents": ["a b c"] * 6}, timeout=30))
            for _ in range(15)
        ]
        for q in queued:
            q.start()
        wait_for(lambda: app.batcher.active >= 10, what="a queue")
        start = time.monotonic()
        server.handle_exit(signal.SIGTERM, None)
        clients = [threading.Thread(target=client) for _ in range(8)]
        for c in clients:
            c.start()
        for c in clients + queued:
            c.join(timeout=30)
        thread.join(timeout=30)
    answered = [t for t, o in outcomes if o == "503"]
    assert answered and max(answered) >= 0.9  # the listener answered through the minimum drain time
    # 503 (or 413: too much work) until the listener closes, then refused; never a reset or no answer
    fine = ("413", "503", "not connected (ConnectionRefusedError)", "not connected (ConnectionResetError)")
    assert all(o in fine for _, o in outcomes), [o for o in outcomes if o[1] not in fine]
