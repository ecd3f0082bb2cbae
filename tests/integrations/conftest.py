"""The framework tests' fixtures (run by tests/integrations/run.sh in the frameworks' own
virtualenv): the model from FASTRERANK_TEST_MODEL, `fastrerank serve` on 127.0.0.1, and a guard
that fails any attempt to reach beyond this machine."""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

os.environ["HAYSTACK_TELEMETRY_ENABLED"] = "False"  # before any test imports haystack
os.environ["LANGSMITH_TRACING"] = "false"

MODEL = os.environ.get("FASTRERANK_TEST_MODEL", "")
KEY = "test-key"  # the served API key

QUERY = "What is the capital of the United States?"
TEXTS = [
    "Carson City is the capital city of the American state of Nevada.",
    "Washington, D.C. is the capital of the United States.",
    "Capital punishment has existed in the United States since before it was a country.",
    "The quick brown fox jumps over the lazy dog.",
    "",
    "   ",
    "Great product!!! 😀👍🏽 — 東京 and control\x00chars",
]

# ---- nothing leaves the machine ----------------------------------------------------------------

attempts: list[str] = []
_connect = socket.socket.connect
_getaddrinfo = socket.getaddrinfo


def _ip(host: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:
        return None


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        ip = _ip(address[0])
        if ip is None or not ip.is_loopback:
            attempts.append(f"connect {address}")
            raise ConnectionRefusedError(f"the framework tests may not leave 127.0.0.1 (tried {address})")
    return _connect(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host is not None and host != "localhost" and _ip(host) is None:  # a numeric address needs no lookup
        attempts.append(f"resolve {host}")
        raise socket.gaierror(f"the framework tests may not resolve {host}")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.getaddrinfo = _guarded_getaddrinfo


@pytest.fixture(autouse=True)
def no_network() -> Iterator[None]:
    """Fails a test during which anything (a framework's import included) tried the network."""
    yield
    tried, attempts[:] = list(attempts), []
    assert not tried, f"tried to reach beyond 127.0.0.1: {tried}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if attempts:  # e.g. at import, outside any test
        print(f"\nthe framework tests tried to reach beyond 127.0.0.1: {attempts}", file=sys.stderr)
        session.exitstatus = 1


# ---- the model and the server ------------------------------------------------------------------


@pytest.fixture(scope="session")
def rr() -> Any:
    """The Reranker every adapter shares for MODEL."""
    if not MODEL:
        pytest.fail("set FASTRERANK_TEST_MODEL to a model directory (tests/integrations/run.sh)")
    from fastrerank.integrations._shared import shared_reranker

    return shared_reranker(MODEL)


def expected(rr: Any, texts: list[Any], top_n: int | None = None, **options: Any) -> list[tuple[int, float]]:
    """(index, score) of Reranker.rerank on the same texts: what every adapter must give."""
    return [(r.index, r.relevance_score) for r in rr.rerank(QUERY, texts, top_n, **options).results]


def near(pairs: list[tuple[int, float]]) -> list[tuple[int, Any]]:
    """``pairs`` with scores as approx: a server batches requests together, which moves floats by ~1e-7."""
    return [(i, pytest.approx(s, rel=1e-5, abs=1e-6)) for i, s in pairs]


@pytest.fixture(scope="session")
def server(rr: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`fastrerank serve` on a free port of 127.0.0.1, with an API key; yields its base URL."""
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    command = [sys.executable, "-m", "fastrerank", "serve", "--model", MODEL, "--host", "127.0.0.1", "--port", "0", "--api-key", KEY]
    with open(log, "w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        url = None
        while url is None:
            found = re.search(r"listening on (http://\S+)", log.read_text())
            url = found.group(1) if found else None
            if url is None and (proc.poll() is not None or time.monotonic() > deadline):
                raise RuntimeError(f"fastrerank serve did not start: {log.read_text()}")
            time.sleep(0.05)
        while True:
            try:
                with urllib.request.urlopen(url + "/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
