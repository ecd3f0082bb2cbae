"""The App's seams for hosts other than ``fastrerank serve``: ``submit`` (an outside scheduler,
such as Ray Serve's ``@serve.batch``, scores a request's pairs instead of the App's Batcher),
the ASGI ``root_path`` (a route prefix), and the route table it answers."""

from __future__ import annotations

import asyncio
from typing import Any

import cohere
import httpx
import pytest

from fastrerank import Reranker
from fastrerank.server.app import App
from fastrerank.server.batcher import Job, score_parts
from fastrerank.server.config import ServerConfig
from fastrerank.server.outcomes import EngineFailed
from fastrerank.server.stub import StubEngine

from server_utils import assert_same_ranking, live
from texts import DOCUMENTS, QUERIES, SUPPORT_EMAILS


class ChunkedScorer:
    """An outside scheduler: each request's pairs in chunks of ``size``, each scored on a thread."""

    def __init__(self, engine: Any, size: int) -> None:
        self.engine, self.size = engine, size
        self.chunks: list[tuple[int, int]] = []

    async def __call__(self, job: Job) -> None:
        loop = asyncio.get_running_loop()
        for first in range(0, job.prep.n_docs, self.size):
            end = min(first + self.size, job.prep.n_docs)
            self.chunks.append((first, end))
            await loop.run_in_executor(None, score_parts, self.engine, [(job, first, end)])


@pytest.fixture(scope="module")
def rr(tiny_models):
    return Reranker(tiny_models["bert-1"])


def test_submit_serves_every_route_as_the_batcher_does(rr):
    scorer = ChunkedScorer(rr, size=3)
    app = App(ServerConfig(v1_return_documents=True), rr, submit=scorer)
    with live(app) as url, live(App(ServerConfig(v1_return_documents=True), rr)) as plain:
        assert app.batcher is None  # no idle queue beside the outside one
        co = cohere.ClientV2(base_url=url, api_key="any")
        for query in QUERIES[:3]:
            got = co.rerank(model="m", query=query, documents=DOCUMENTS, top_n=4)
            want = rr.rerank(query, DOCUMENTS, top_n=4).to_dict()
            assert_same_ranking([r.dict() for r in got.results], want["results"])
        assert len(scorer.chunks) == 3 * -(-len(DOCUMENTS) // 3)
        v1 = {"query": QUERIES[1], "documents": SUPPORT_EMAILS, "rank_fields": ["Title", "Content"], "top_n": 2}
        tei = {"query": QUERIES[0], "texts": DOCUMENTS, "raw_scores": True, "truncate": True}
        for path, body in (("/v1/rerank", v1), ("/rerank", tei), ("/v2/rerank", {"query": "q", "documents": []})):
            a, b = httpx.post(url + path, json=body), httpx.post(plain + path, json=body)
            assert a.status_code == b.status_code == 200
            assert _same(a.json(), b.json()), (a.json(), b.json())


def _same(a: Any, b: Any, key: str = "") -> bool:
    """Equal JSON, floats within 1e-5, ``id`` (fresh per response) aside."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(k == "id" or _same(a[k], b[k], k) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= 1e-5
    return bool(a == b)


def test_submit_failure_deadline_and_readiness():
    async def failing(job: Job) -> None:
        raise EngineFailed("the engine failed on this request") from RuntimeError("boom")

    with live(App(ServerConfig(), StubEngine(), submit=failing)) as url:
        r = httpx.post(url + "/v2/rerank", json={"query": "q", "documents": ["a"]})
        assert r.status_code == 500 and "request id" in r.json()["message"] and "boom" not in r.json()["message"]
        r = httpx.post(url + "/rerank", json={"query": "q", "texts": ["a"]})
        assert r.status_code == 500 and r.json()["error_type"] == "Backend"
        assert httpx.get(url + "/ready").json() == {"status": "ready"}

    cancelled = []

    async def stuck(job: Job) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(job)
            raise

    with live(App(ServerConfig(request_timeout=0.3), StubEngine(), submit=stuck)) as url:
        r = httpx.post(url + "/v2/rerank", json={"query": "q", "documents": ["a", "b"]}, timeout=10)
        assert r.status_code == 503 and "deadline" in r.json()["message"]
        assert len(cancelled) == 1  # the outside call is cancelled, not left running


async def _call(app: App, method: str, path: str, body: bytes = b"", *, root_path: str = "", disconnect: bool = False) -> tuple[int, Any]:
    """One request straight through the ASGI interface: (status, parsed body or None)."""
    headers = [(b"content-type", b"application/json")] if body else []
    scope = {"type": "http", "method": method, "path": path, "root_path": root_path, "headers": headers, "query_string": b""}
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        if disconnect:
            return {"type": "http.disconnect"}
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    if not sent:
        return 0, None
    import json

    return sent[0]["status"], json.loads(sent[1]["body"]) if sent[1]["body"].startswith((b"{", b"[")) else sent[1]["body"]


def test_client_gone_cancels_the_outside_call():
    cancelled = []
    started = asyncio.Event()

    async def stuck(job: Job) -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(job)
            raise

    async def scenario() -> tuple[tuple[int, Any], int]:
        app = App(ServerConfig(), StubEngine(), submit=stuck)
        app.start()
        try:
            answer = await asyncio.wait_for(_call(app, "POST", "/v2/rerank", b'{"query": "q", "documents": ["a"]}', disconnect=True), 10)
            await asyncio.sleep(0.05)
            return answer, len(cancelled)
        finally:
            await app.close()

    assert asyncio.run(scenario()) == ((0, None), 1)  # nothing answered; the call cancelled at once


def test_routes_below_the_root_path():
    async def scenario() -> list[tuple[int, Any]]:
        app = App(ServerConfig(), StubEngine())
        app.start()
        body = b'{"query": "q", "documents": ["a b", "c"]}'
        try:
            for _ in range(1000):  # the queue measures the engine before it serves
                if app.state == "ready":
                    break
                await asyncio.sleep(0.01)
            return [
                await _call(app, "GET", "/rr/health", root_path="/rr"),
                await _call(app, "POST", "/rr/v2/rerank", body, root_path="/rr"),
                await _call(app, "GET", "/rr", root_path="/rr"),
                await _call(app, "GET", "/rrx/health", root_path="/rr"),  # not below "/rr"
                await _call(app, "GET", "/health", root_path="/rr/"),  # not below it either: taken as it is
                await _call(app, "GET", "/ready", root_path=""),
            ]
        finally:
            await app.close()

    health, rerank, root, other, outside, ready = asyncio.run(scenario())
    assert health == (200, {"status": "ok"}) and ready == (200, {"status": "ready"}) and outside[0] == 200
    assert rerank[0] == 200 and [r["index"] for r in rerank[1]["results"]] and len(rerank[1]["results"]) == 2
    assert root[0] == 404 and "no route /" in root[1]["message"]
    assert other[0] == 404 and "/rrx/health" in other[1]["message"]


def test_route_table_is_what_the_app_answers():
    app = App(ServerConfig(), StubEngine())
    assert {"/v2/rerank", "/v1/rerank", "/rerank", "/health", "/ready", "/metrics"} <= set(app.routes)
    with live(app) as url:
        for path, method in app.routes.items():
            r = httpx.request(method, url + path, json={"query": "q", "documents": ["a"]} if method == "POST" else None)
            assert r.status_code == 200, (path, r.text)
            wrong = "GET" if method == "POST" else "POST"
            assert httpx.request(wrong, url + path).status_code == 405
        assert httpx.get(url + "/not-a-route").status_code == 404
    names = app.metrics.registry.names()
    assert "fastrerank_queue_tokens" in names and len(names) == len(set(names))
    assert all(f"# TYPE {n} " in app.metrics.render().decode() for n in names)
