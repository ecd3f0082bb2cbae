"""``fastrerank serve`` as a process: where it listens and what it runs, readiness, a clean exit
on SIGTERM after draining, and one-line errors."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading

import httpx
import pytest

from server_utils import wait_for


def start(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    """Starts ``fastrerank serve ARGS --port 0``; returns the process and its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "fastrerank", "serve", "--host", "127.0.0.1", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
    if match is None:
        proc.kill()
        raise AssertionError(f"no listening line: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    return proc, match.group(1)


def test_serve_prints_where_and_what_then_drains_on_sigterm(tiny_models):
    proc, url = start("--model", str(tiny_models["bert-1"]), "--api-key", "k", "--drain-timeout", "5", "--min-drain-time", "1")
    try:
        ready = proc.stdout.readline()
        assert "ready:" in ready and "on cpu, fp32" in ready and "authentication on" in ready, ready
        wait_for(lambda: httpx.get(url + "/ready").status_code == 200, what="readiness")
        headers = {"Authorization": "Bearer k"}
        r = httpx.post(url + "/v2/rerank", json={"query": "capital", "documents": ["a", "b c"]}, headers=headers)
        assert r.status_code == 200 and len(r.json()["results"]) == 2
        # a steady stream of requests while SIGTERM arrives: each one is answered (200 before
        # the drain, 503 after), none is dropped on the floor
        statuses: list[int] = []
        stop = threading.Event()

        def client():
            with httpx.Client(timeout=10) as c:
                while not stop.is_set():
                    try:
                        statuses.append(
                            c.post(url + "/v2/rerank", json={"query": "q", "documents": ["x"] * 20}, headers=headers).status_code
                        )
                    except httpx.TransportError:
                        break  # the listener closed once drained

        t = threading.Thread(target=client)
        t.start()
        wait_for(lambda: len(statuses) >= 3, what="requests before SIGTERM")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        stop.set()
        t.join(timeout=10)
        assert proc.returncode == 0, err
        assert "draining" in out and "stopped" in out
        assert set(statuses) <= {200, 503} and statuses[0] == 200
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_serve_stub_engine_and_failed_model(tmp_path):
    proc, url = start("--stub-engine")
    try:
        wait_for(lambda: httpx.get(url + "/ready").status_code == 200, what="readiness")
        assert httpx.post(url + "/rerank", json={"query": "q", "texts": ["a", "b"]}).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
    proc, url = start("--model", str(tmp_path / "missing"))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "the model failed to load" in err


def without_key(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "FASTRERANK_API_KEY"}
    return env | extra


def test_the_ready_line_says_whether_authentication_is_on_and_a_key_flag_is_warned_of():
    for args, env, auth, warned in [
        ([], without_key(), "authentication off: any client may rerank", False),
        ([], without_key(FASTRERANK_API_KEY=" k \n"), "authentication on", False),  # a secret file's newline is not the key
        (["--api-key", "k"], without_key(), "authentication on", True),
    ]:
        proc, url = start("--stub-engine", "--min-drain-time", "0", *args, env=env)
        try:
            ready = proc.stdout.readline()
            assert auth in ready, ready
            if auth == "authentication on":
                assert httpx.post(url + "/rerank", json={"query": "q", "texts": ["a"]}).status_code == 401
                r = httpx.post(url + "/rerank", json={"query": "q", "texts": ["a"]}, headers={"Authorization": "Bearer k"})
                assert r.status_code == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
        assert ("--api-key is visible to every user of this machine" in err) == warned, err


@pytest.mark.parametrize(
    "args, env, needle",
    [
        (["--api-key", ""], without_key(), "--api-key is empty (or only whitespace)"),
        (["--api-key", "  "], without_key(), "--api-key is empty (or only whitespace)"),
        ([], without_key(FASTRERANK_API_KEY=""), "$FASTRERANK_API_KEY is empty (or only whitespace)"),
        ([], without_key(FASTRERANK_API_KEY="a\tb"), "api_key must be printable ASCII"),
    ],
)
def test_an_empty_api_key_is_refused_at_startup(args, env, needle):
    command = [sys.executable, "-m", "fastrerank", "serve", "--stub-engine", *args]
    out = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 2 and out.stdout == "", out
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastrerank: error:") and needle in lines[0], out.stderr


@pytest.mark.parametrize(
    "args, needle",
    [
        ([], "serve needs --model"),
        (["--stub-engine", "--max-documents", "0"], "max_documents must be positive"),
        (["--stub-engine", "--port", "PORT"], "cannot listen on 127.0.0.1:PORT"),
        (["--stub-engine", "--min-drain-time", "40"], "min_drain_time (40) must be at most drain_timeout (30)"),
    ],
)
def test_serve_errors_are_one_line(args, needle):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = str(taken.getsockname()[1])
    args = [a.replace("PORT", port) for a in args]
    needle = needle.replace("PORT", port)
    with taken:
        out = subprocess.run([sys.executable, "-m", "fastrerank", "serve", *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastrerank: error:") and needle in lines[0], out.stderr


def test_serve_help_lists_the_limits():
    out = subprocess.run([sys.executable, "-m", "fastrerank", "serve", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    flags = ("--max-body-bytes", "--max-documents", "--max-queue-pairs", "--request-timeout", "--api-key", "--v1-return-documents")
    for flag in (*flags, "--min-drain-time", "--max-connections", "--max-header-bytes", "--header-timeout", "--body-timeout"):
        assert flag in out.stdout
