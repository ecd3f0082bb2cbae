"""Helpers for the server tests: a live server on 127.0.0.1 in a thread, metrics, references."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import uvicorn


@contextlib.contextmanager
def live(app: Any, *, ready: bool = True) -> Iterator[str]:
    """Runs ``app`` on uvicorn on a free port of 127.0.0.1 in a thread, as ``fastrerank serve``
    configures it (its protocol and connection bounds); yields its base URL once the app is
    ready (with ``ready=False``: once it listens). The server stops (lifespan shutdown
    included) when the block ends."""
    from fastrerank.server.runner import uvicorn_config

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(app))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    end = time.monotonic() + 20
    while not server.started or (ready and app.state == "loading"):
        if not thread.is_alive() or time.monotonic() > end:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes] | None:
    """The next HTTP response on a raw socket: (status, headers by lower-case name, body), or
    None if the server closed the connection first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    while len(body) < int(headers.get("content-length", 0)):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


def send_until_refused(
    connect: Callable[[], socket.socket], request: bytes, *, since: float, seconds: float, most: int
) -> list[tuple[float, Any]]:
    """Sends ``request`` back to back, on one connection while the server keeps it (a new one
    from ``connect()`` when it closes it), until a connection cannot be made, ``most`` requests
    have been sent or ``seconds`` have passed since ``since`` (a ``time.monotonic()``). Returns
    [(seconds since ``since``, (status, headers, body) or what happened instead)]; the last is
    ``"not connected (ErrorName)"`` when the listener was closed."""
    outcomes: list[tuple[float, Any]] = []
    sock = None
    for _ in range(most):
        if time.monotonic() - since > seconds:
            break
        if sock is None:
            try:
                sock = connect()
            except OSError as e:  # no connection, nothing sent
                outcomes.append((time.monotonic() - since, f"not connected ({type(e).__name__})"))
                break
        try:
            sock.sendall(request)
            got = read_response(sock)
            outcome: Any = "closed without an answer" if got is None else got
        except OSError as e:
            outcome = type(e).__name__
        outcomes.append((time.monotonic() - since, outcome))
        if isinstance(outcome, str) or outcome[1].get("connection") == "close":
            sock.close()
            sock = None
    if sock is not None:
        sock.close()
    return outcomes


def metrics(url: str) -> dict[str, float]:
    """``/metrics`` as {'name{labels}': value}."""
    text = httpx.get(url + "/metrics").text
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def wait_for(predicate: Any, timeout: float = 10.0, what: str = "condition") -> None:
    """Polls ``predicate()`` until true; fails after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def shared_batches(m: dict[str, float]) -> float:
    """Engine batches that held pairs of more than one request."""
    return m["fastrerank_step_requests_count"] - m['fastrerank_step_requests_bucket{le="1"}']


def assert_same_ranking(got: list[dict[str, Any]], want: list[dict[str, Any]], score: str = "relevance_score", tol: float = 1e-5) -> None:
    """Same documents, scores within ``tol``, in the same order (two documents whose scores
    are within ``tol`` may trade places: batch composition moves floats by ~1e-7)."""
    want_score = {w["index"]: w["relevance_score"] for w in want}
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g["index"] in want_score, (got, want)
        assert abs(g[score] - want_score[g["index"]]) <= tol, (g, w)
        assert g["index"] == w["index"] or abs(want_score[g["index"]] - w["relevance_score"]) <= tol, (got, want)


WORDS = re.findall(
    r"\w+",
    "the quick brown fox jumps over a lazy dog while capital cities of many countries host parliaments museums rivers and old bridges",
)
