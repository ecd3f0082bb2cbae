"""The server's wire formats against the library: the official cohere SDK (v1 and v2 clients),
Jina- and TEI-shaped requests by plain HTTP, health / readiness / metrics / OpenAPI, and every
kind of bad request answered with the right status and a JSON message."""

from __future__ import annotations

import json
import re
import socket
import threading

import cohere
import httpx
import numpy as np
import pytest

from fastrerank import Reranker
from fastrerank.engine import DocumentLimits, EncodedRequest
from fastrerank.server.app import App
from fastrerank.server.config import ServerConfig
from fastrerank.server.stub import StubEngine

import reference as ref
from server_utils import assert_same_ranking, live, metrics
from texts import DOCUMENTS, LONG_DOCUMENT, QUERIES, SUPPORT_EMAILS

KEY = "test-key-123"


@pytest.fixture(scope="module")
def rr(tiny_models):
    return Reranker(tiny_models["bert-1"])


@pytest.fixture(scope="module")
def url(rr):
    with live(App(ServerConfig(model_name="tiny-bert", max_documents=50, max_body_bytes=64 * 1024), rr)) as u:
        yield u


@pytest.fixture(scope="module")
def keyed_url(rr):
    with live(App(ServerConfig(api_key=KEY, v1_return_documents=True), rr)) as u:
        yield u


def post(url: str, path: str, body, **kw) -> httpx.Response:
    if isinstance(body, (dict, list)):
        return httpx.post(url + path, json=body, **kw)
    headers = {"content-type": "application/json", **kw.pop("headers", {})}
    return httpx.post(url + path, content=body, headers=headers, **kw)


# ---- the official SDK -------------------------------------------------------------------------


@pytest.mark.parametrize("top_n, max_tokens", [(None, None), (3, None), (5, 8)])
def test_cohere_v2_client_equals_library(rr, url, top_n, max_tokens):
    co = cohere.ClientV2(base_url=url, api_key="anything")
    kw = {} if max_tokens is None else {"max_tokens_per_doc": max_tokens}
    got = co.rerank(model="rerank-v3.5", query=QUERIES[0], documents=DOCUMENTS, top_n=top_n, **kw)
    want = rr.rerank(QUERIES[0], DOCUMENTS, top_n=top_n, **kw).to_dict()
    assert_same_ranking([r.dict() for r in got.results], want["results"])
    assert got.meta.api_version.version == "2" and got.meta.billed_units.search_units == want["meta"]["billed_units"]["search_units"]
    assert got.id and got.id != want["id"]


def test_cohere_v1_client_equals_library(rr, url):
    co = cohere.Client(base_url=url, api_key="anything")
    got = co.rerank(
        model="rerank-english-v3.0",
        query=QUERIES[1],
        documents=SUPPORT_EMAILS,
        rank_fields=["Title", "Content"],
        return_documents=True,
        top_n=3,
    )
    want = rr.rerank(QUERIES[1], SUPPORT_EMAILS, top_n=3, rank_fields=["Title", "Content"], return_documents=True).to_dict()
    got_results = [{"index": r.index, "relevance_score": r.relevance_score} for r in got.results]
    assert_same_ranking(got_results, want["results"])
    assert [r.document.dict() for r in got.results] == [w["document"] for w in want["results"]]
    assert got.meta.api_version.version == "1"
    # strings, default return_documents (Cohere: false)
    plain = co.rerank(query=QUERIES[0], documents=DOCUMENTS[:6])
    assert_same_ranking(
        [{"index": r.index, "relevance_score": r.relevance_score} for r in plain.results],
        rr.rerank(QUERIES[0], DOCUMENTS[:6]).to_dict()["results"],
    )
    assert all(r.document is None for r in plain.results)


def test_cohere_clients_with_api_key(rr, keyed_url):
    got = cohere.ClientV2(base_url=keyed_url, api_key=KEY).rerank(model="m", query=QUERIES[0], documents=DOCUMENTS[:4])
    assert_same_ranking([r.dict() for r in got.results], rr.rerank(QUERIES[0], DOCUMENTS[:4]).to_dict()["results"])
    with pytest.raises(cohere.errors.UnauthorizedError):
        cohere.ClientV2(base_url=keyed_url, api_key="wrong").rerank(model="m", query="q", documents=["a"])
    with pytest.raises(cohere.errors.UnauthorizedError):
        cohere.Client(base_url=keyed_url, api_key=KEY + "x").rerank(query="q", documents=["a"])


# ---- Jina and TEI by plain HTTP ----------------------------------------------------------------


def test_jina_shaped_request(rr, url, keyed_url):
    body = {
        "model": "jina-reranker-v2-base-multilingual",
        "query": QUERIES[0],
        "documents": DOCUMENTS[:5],
        "top_n": 3,
        "return_documents": True,
    }
    r = post(url, "/v1/rerank", body)
    assert r.status_code == 200, r.text
    got = r.json()
    want = rr.rerank(QUERIES[0], DOCUMENTS[:5], top_n=3, return_documents=True).to_dict()
    assert_same_ranking(got["results"], want["results"])
    assert [x["document"] for x in got["results"]] == [{"text": DOCUMENTS[w["index"]]} for w in want["results"]]
    assert got["model"] == body["model"] and got["usage"]["total_tokens"] > 0 and got["id"]
    # without return_documents: Cohere's default here, Jina's on the --v1-return-documents server
    assert "document" not in post(url, "/v1/rerank", {"query": "q", "documents": ["a", "b"]}).json()["results"][0]
    r = post(keyed_url, "/v1/rerank", {"query": "q", "documents": ["a", "b"]}, headers={"Authorization": f"Bearer {KEY}"})
    assert r.json()["results"][0]["document"]["text"] in ("a", "b")
    assert r.json()["model"] == "fastrerank"


def test_jina_usage_counts_every_window_token(rr, url):
    docs = ["a b c", LONG_DOCUMENT]
    got = post(url, "/v1/rerank", {"query": "capital", "documents": docs, "max_chunks_per_doc": 1000}).json()
    q = rr.encode(["capital"])[0]
    ids, offsets = rr.encode(docs)
    import fastrerank._core as core

    packed = core.pack(
        q,
        ids,
        offsets,
        rr.template,
        max_length=rr.max_length,
        max_tokens_per_doc=4096,
        max_windows_per_doc=1000,
        max_batch_tokens=rr.max_batch_tokens,
        pad_id=0,
    )
    assert got["usage"]["total_tokens"] == packed.real_tokens


def test_tei_shaped_request(rr, url, tiny_models):
    body = {"query": QUERIES[0], "texts": DOCUMENTS, "return_text": True}
    r = post(url, "/rerank", body)
    assert r.status_code == 200, r.text
    got = r.json()
    assert isinstance(got, list) and len(got) == len(DOCUMENTS)
    want = rr.rerank(QUERIES[0], DOCUMENTS).to_dict()["results"]
    assert_same_ranking(got, want, score="score")
    assert all(x["text"] == DOCUMENTS[x["index"]] for x in got)
    raw = post(url, "/rerank", {"query": QUERIES[0], "texts": DOCUMENTS[:5], "raw_scores": True}).json()
    want_raw = Reranker(tiny_models["bert-1"], normalize="none").rerank(QUERIES[0], DOCUMENTS[:5]).to_dict()["results"]
    assert_same_ranking(raw, want_raw, score="score")
    assert "text" not in raw[0]


def kept_alone(rr, query: str, doc: str, max_windows: int | None, keep_end: bool) -> float:
    """The plain rule (reference.py) cuts the document; the library scores what it kept, alone."""
    q_ids = rr.encode([query])[0]
    special = rr.template.special_tokens
    window = ref.doc_window(special, rr.max_length, min(len(q_ids), ref.query_limit(special, rr.max_length)))
    kept = ref.kept_part(rr.encode([doc])[0].tolist(), window, 4096, max_windows, keep_end)
    request = EncodedRequest(q_ids, np.array(kept, dtype=np.int32), np.array([0, len(kept)], dtype=np.int64), DocumentLimits(len(kept)))
    return float(rr.score_encoded([request])[0].scores[0])


def test_tei_truncate_keeps_one_window_from_either_end(rr, url):
    q, doc = "capital", LONG_DOCUMENT  # many windows of a 128-token model
    scores = {}
    for direction in ("Right", "Left", "left"):
        got = post(url, "/rerank", {"query": q, "texts": [doc], "truncate": True, "truncation_direction": direction}).json()
        scores[direction] = got[0]["score"]
        assert abs(got[0]["score"] - kept_alone(rr, q, doc, 1, direction.lower() == "left")) < 1e-5
    assert scores["Right"] != scores["Left"] == scores["left"]
    whole = post(url, "/rerank", {"query": q, "texts": [doc]}).json()[0]["score"]
    assert abs(whole - rr.rerank(q, [doc]).results[0].relevance_score) < 1e-5


def test_tei_route_with_documents_is_cohere_shaped(rr, url):
    got = post(url, "/rerank", {"model": "m", "query": QUERIES[2], "documents": DOCUMENTS[:6], "top_n": 2}).json()
    assert set(got) >= {"id", "results", "meta", "usage", "model"}
    assert_same_ranking(got["results"], rr.rerank(QUERIES[2], DOCUMENTS[:6], top_n=2).to_dict()["results"])


def test_v1_max_chunks_per_doc_caps_windows(tiny_models):
    xlmr = Reranker(tiny_models["xlmr"])  # a 64-token window: the long document has many
    with live(App(ServerConfig(), xlmr)) as u:
        q = "capital"
        assert xlmr.plan(xlmr.encode_request(q, [LONG_DOCUMENT])).windows[0] > 10
        for chunks in (1, 3):
            got = post(u, "/v1/rerank", {"query": q, "documents": [LONG_DOCUMENT, "short"], "max_chunks_per_doc": chunks}).json()
            score = next(r["relevance_score"] for r in got["results"] if r["index"] == 0)
            assert abs(score - kept_alone(xlmr, q, LONG_DOCUMENT, chunks, False)) < 1e-5
            assert got["meta"]["billed_units"]["search_units"] == 1
        # Cohere v1's default is 10 windows; v2 has no such cap
        v1 = post(u, "/v1/rerank", {"query": q, "documents": [LONG_DOCUMENT]}).json()
        v2 = post(u, "/v2/rerank", {"query": q, "documents": [LONG_DOCUMENT]}).json()
        assert abs(v1["results"][0]["relevance_score"] - kept_alone(xlmr, q, LONG_DOCUMENT, 10, False)) < 1e-5
        assert (
            abs(v1["results"][0]["relevance_score"] - xlmr.rerank(q, [LONG_DOCUMENT], max_windows_per_doc=10).results[0].relevance_score)
            < 1e-5
        )
        assert abs(v2["results"][0]["relevance_score"] - xlmr.rerank(q, [LONG_DOCUMENT]).results[0].relevance_score) < 1e-5
        assert v2["meta"]["billed_units"]["search_units"] == xlmr.rerank(q, [LONG_DOCUMENT]).meta.billed_units.search_units


# ---- health, readiness, metrics, OpenAPI -------------------------------------------------------


def test_health_ready_metrics_openapi(url, keyed_url):
    for u in (url, keyed_url):  # public even with a key
        assert httpx.get(u + "/health").json() == {"status": "ok"}
        assert httpx.get(u + "/ready").status_code == 200
    post(url, "/v2/rerank", {"query": "q", "documents": ["a", "b"]})
    m = metrics(url)
    assert m['fastrerank_requests_total{route="/v2/rerank",status="200"}'] >= 1
    for name in ("queue_pairs", "queue_tokens", "queue_requests", "ready"):
        assert f"fastrerank_{name}" in m
    for hist in ("tokenize", "queue", "step"):
        assert m[f"fastrerank_{hist}_duration_seconds_count"] >= 1
    assert m["fastrerank_step_pairs_count"] >= 1
    doc = httpx.get(url + "/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert {"/v2/rerank", "/v1/rerank", "/rerank"} <= set(doc["paths"])
    v2 = doc["components"]["schemas"]["V2RerankRequest"]
    assert v2["required"] == ["query", "documents"] and v2["properties"]["documents"]["maxItems"] == 50


def test_ready_is_503_while_loading(rr):
    import threading

    release = threading.Event()

    def load():
        release.wait(10)
        return rr

    with live(App(ServerConfig(), load=load), ready=False) as u:
        r = httpx.get(u + "/ready")
        assert r.status_code == 503 and "loading" in r.json()["message"]
        assert post(u, "/v2/rerank", {"query": "q", "documents": ["a"]}).status_code == 503
        assert httpx.get(u + "/health").status_code == 200
        release.set()
        from server_utils import wait_for

        wait_for(lambda: httpx.get(u + "/ready").status_code == 200, what="readiness")
        assert post(u, "/v2/rerank", {"query": "q", "documents": ["a"]}).status_code == 200


# ---- bad requests --------------------------------------------------------------------------------

BAD = [
    ("/v2/rerank", b"{not json", 400, "malformed JSON"),
    ("/v2/rerank", b"\xff\xfe\x00garbage", 400, "malformed JSON"),
    ("/v2/rerank", b"", 400, "malformed JSON"),
    ("/v2/rerank", b"[1, 2]", 400, "Expected `object`"),
    ("/v2/rerank", rb'{"query": "q", "documents": ["a \ud800 lone surrogate"]}', 400, "malformed JSON"),
    ("/v2/rerank", b'{"query": "q", "documents": ["\xff\xfe not UTF-8"]}', 400, "malformed JSON"),
    ("/v2/rerank", b'{"query": "q", "documents": ["a"], "x": ' + b"[" * 20000 + b"]" * 20000 + b"}", 400, "nested too deeply"),
    ("/rerank", b'{"query": "q", "documents": [' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"]}", 400, "nested too deeply"),
    ("/v2/rerank", {"documents": ["a"]}, 400, "missing required field `query`"),
    ("/v2/rerank", {"query": "q"}, 400, "missing required field `documents`"),
    ("/v2/rerank", {"query": 3, "documents": ["a"]}, 400, "$.query"),
    ("/v2/rerank", {"query": "q", "documents": "a"}, 400, "$.documents"),
    ("/v2/rerank", {"query": "q", "documents": [{"text": "a"}]}, 400, "$.documents[0]"),
    ("/v2/rerank", {"query": "q", "documents": ["a"], "top_n": "3"}, 400, "$.top_n"),
    ("/v2/rerank", {"query": "q", "documents": ["a"], "top_n": 0}, 400, "top_n must be at least 1"),
    ("/v2/rerank", {"query": "  ", "documents": ["a"]}, 400, "query is empty"),
    ("/v2/rerank", {"query": "q", "documents": ["a"], "max_tokens_per_doc": 0}, 400, "max_tokens_per_doc must be at least 1"),
    ("/v2/rerank", {"query": "q", "documents": ["a"], "priority": -1}, 400, "priority"),
    ("/v2/rerank", {"query": "q", "documents": ["a"] * 51}, 400, "too many documents: 51, at most 50"),
    ("/v2/rerank", {"query": "q", "documents": ["a"], "relevant_spans": {"mode": "enabled"}}, 422, "relevant_spans"),
    ("/v1/rerank", {"query": "q", "documents": [{"title": "a"}]}, 422, "without a 'text' field"),
    ("/v1/rerank", {"query": "q", "documents": [{"a": 1}], "rank_fields": ["b"]}, 422, "rank_fields names ['b']"),
    ("/v1/rerank", {"query": "q", "documents": [{"a": "x"}], "rank_fields": []}, 400, "rank_fields is empty"),
    ("/v1/rerank", {"query": "q", "documents": [{"text": 5}]}, 400, "documents[0]['text'] must be a str"),
    ("/v1/rerank", {"query": "q", "documents": ["a"], "max_chunks_per_doc": 0}, 400, "max_chunks_per_doc"),
    ("/v1/rerank", {"query": "q", "documents": ["a"], "return_documents": "yes"}, 400, "$.return_documents"),
    ("/rerank", {"query": "q"}, 400, "texts"),
    ("/rerank", {"query": "q", "texts": ["a"], "truncation_direction": "Up"}, 400, "truncation_direction"),
    ("/rerank", {"query": "q", "texts": [None]}, 400, "$.texts[0]"),
]


@pytest.mark.parametrize("path, body, status, needle", BAD)
def test_bad_requests_get_status_and_message(url, path, body, status, needle):
    r = post(url, path, body)
    assert r.status_code == status, r.text
    assert needle in r.json()["message"]
    if path == "/rerank":
        assert r.json()["error_type"] == "Validation"


def test_limits_and_auth(url, keyed_url):
    big = {"query": "q", "documents": ["x" * 1500] * 49}  # under the document count, over 64 KiB
    r = post(url, "/v2/rerank", big)
    assert r.status_code == 413 and "--max-body-bytes" in r.json()["message"]

    def chunks():  # no Content-Length: the limit holds while reading
        yield b'{"query": "q", "documents": ['
        for _ in range(100):
            yield b'"' + b"y" * 1000 + b'",'
        yield b'"z"]}'

    r = httpx.post(url + "/v2/rerank", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    long_doc = {"query": "q", "documents": ["a" * 30]}
    r = post(keyed_url, "/v2/rerank", long_doc)
    assert r.status_code == 401 and "missing API key" in r.json()["message"]
    assert r.headers["www-authenticate"] == "Bearer"
    for header in (f"Basic {KEY}", f"Bearer {KEY}x", "Bearer", KEY):
        r = post(keyed_url, "/v2/rerank", long_doc, headers={"Authorization": header})
        assert r.status_code == 401 and r.json()["message"] == "invalid API key", header
    assert post(keyed_url, "/v2/rerank", long_doc, headers={"Authorization": f"bearer {KEY}"}).status_code == 200


def test_character_limits(rr):
    with live(App(ServerConfig(max_document_chars=20, max_query_chars=5), rr)) as u:
        r = post(u, "/v2/rerank", {"query": "q", "documents": ["ok", "a" * 21]})
        assert r.status_code == 400 and "documents[1] has 21 characters, at most 20 (--max-document-chars)" in r.json()["message"]
        r = post(u, "/v1/rerank", {"query": "q", "documents": [{"a": "b" * 30}], "rank_fields": ["a"]})
        assert r.status_code == 400 and "--max-document-chars" in r.json()["message"]
        r = post(u, "/rerank", {"query": "query!", "texts": ["a"]})
        assert r.status_code == 400 and "--max-query-chars" in r.json()["message"]


def test_routes_methods_and_raw_garbage(url):
    assert httpx.get(url + "/nope").status_code == 404
    r = httpx.get(url + "/v2/rerank")
    assert r.status_code == 405 and r.headers["allow"] == "POST" and "message" in r.json()
    assert httpx.post(url + "/health").status_code == 405
    # broken HTTP and half requests on raw sockets do not hurt the server
    host, port = url.removeprefix("http://").split(":")
    for raw in (b"GARBAGE\r\n\r\n", b'POST /v2/rerank HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"qu', b"\x00" * 64):
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(raw)
            s.shutdown(socket.SHUT_WR)
            try:
                s.recv(4096)
            except OSError:
                pass
    r = post(url, "/v2/rerank", {"query": "still", "documents": ["serving"]})
    assert r.status_code == 200 and json.loads(r.content)["results"][0]["index"] == 0


# ---- hostile requests: no memory bomb, no echo, no internals, JSON only ---------------------------


def test_rank_fields_repeats_are_refused_before_any_text_is_built(url):
    # the bomb: one field named over and over; the text was built once per name (N x the body)
    bomb = {"query": "q", "documents": [{"a": "x" * 1000}] * 30, "rank_fields": ["a"] * 5000}  # 55 kB: a 150 MB text
    r = post(url, "/v1/rerank", bomb)
    assert r.status_code == 400 and r.json()["message"] == "rank_fields names 5000 fields, at most 100; name the few fields to rank on"
    r = post(url, "/v1/rerank", {"query": "q", "documents": [{"a": "x", "b": "y"}], "rank_fields": ["a", "b", "a"]})
    assert r.status_code == 400 and r.json()["message"] == "rank_fields names 'a' twice (again at rank_fields[2]); name each field once"
    r = post(url, "/v1/rerank", {"query": "q", "documents": [{"a": "x", "b": "y"}], "rank_fields": ["a", "b"]})
    assert r.status_code == 200


def test_large_bodies_are_decoded_checked_and_rendered_off_the_event_loop(rr, monkeypatch):
    from fastrerank import inputs

    threads = {}
    decode, texts = App._decode_now, inputs.document_texts

    def spy(name, f):
        def wrapped(*a, **kw):
            threads.setdefault(name, set()).add(threading.current_thread().name)
            return f(*a, **kw)

        return wrapped

    monkeypatch.setattr(App, "_decode_now", staticmethod(spy("decode", decode)))
    monkeypatch.setattr(inputs, "document_texts", spy("render", texts))
    with live(App(ServerConfig(tokenize_inline_chars=1000), rr)) as u:
        docs = [{"title": f"t{i}", "body": "word " * 100} for i in range(40)]  # ~20 kB
        r = post(u, "/v1/rerank", {"query": "q", "documents": docs, "rank_fields": ["title", "body"]})
        assert r.status_code == 200, r.text
        # the event loop's thread is uvicorn's (the test's "Thread-N (run)"); the server's own are "fastrerank-..."
        assert all(t.startswith("fastrerank-") for t in threads["decode"] | threads["render"]), threads
        threads.clear()
        assert post(u, "/v2/rerank", {"query": "q", "documents": ["small"]}).status_code == 200  # small: on the loop
        assert not any(t.startswith("fastrerank-") for t in threads["decode"] | threads["render"]), threads


def test_error_messages_repeat_a_bounded_part_of_the_request(url):
    from fastrerank.server.errors import MAX_MESSAGE_CHARS

    r = post(url, "/rerank", {"query": "q", "texts": ["a"], "truncation_direction": "Up" * 30_000})
    assert r.status_code == 400 and r.json()["message"].endswith("- at `$.truncation_direction`")
    assert len(r.content) < 3 * MAX_MESSAGE_CHARS + 200  # message, TEI's error (the same) and error_type
    fields = ["f" * 500 + str(i) for i in range(100)]
    r = post(url, "/v1/rerank", {"query": "q", "documents": [{"a": 1}], "rank_fields": fields})
    assert r.status_code == 422 and len(r.content) < 1000 and "90 more" in r.json()["message"]


class FailingEngine(StubEngine):
    """Fails every call after the calibration's two, with internals in the exception."""

    def score_encoded(self, requests, *, normalize=None):
        if self.calls >= 2:
            raise RuntimeError("secret: /srv/models/private.onnx failed")
        return super().score_encoded(requests, normalize=normalize)


def test_500s_name_a_request_id_and_nothing_of_the_internals(url, monkeypatch, caplog):
    with live(App(ServerConfig(), FailingEngine())) as u:
        r = post(u, "/v2/rerank", {"query": "q", "documents": ["a"]})
        assert r.status_code == 500 and "secret" not in r.text and "RuntimeError" not in r.text
        request_id = re.search(r"request id ([0-9a-f-]{36})", r.json()["message"]).group(1)
        logged = [rec for rec in caplog.records if request_id in rec.getMessage()]
        assert len(logged) == 1 and "secret" in str(logged[0].exc_info[1])
        assert post(u, "/v2/rerank", {"query": "q", "documents": ["a"]}).status_code == 500  # and it keeps answering

    def bug(*a, **kw):
        raise KeyError("internal detail")

    monkeypatch.setattr("fastrerank.server.app.rerank_response", bug)
    r = post(url, "/v2/rerank", {"query": "q", "documents": ["a"]})
    assert r.status_code == 500 and "internal detail" not in r.text and "KeyError" not in r.text and "request id" in r.json()["message"]


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "json"],
)
def test_a_body_not_declared_json_is_415(url, content_type):
    # what a web page can send cross-site without a preflight: it must not reach the model
    body = json.dumps({"query": "q", "documents": ["a"]}).encode()
    headers = {} if content_type is None else {"content-type": content_type}
    for path in ("/v2/rerank", "/v1/rerank", "/rerank"):
        r = httpx.post(url + path, content=body, headers=headers)
        assert r.status_code == 415 and "Content-Type: application/json" in r.json()["message"], (path, r.text)
        assert r.headers["accept-post"] == "application/json"


@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON; charset=utf-8", "application/vnd.api+json"])
def test_json_content_types_are_taken(url, content_type):
    r = httpx.post(url + "/v2/rerank", content=json.dumps({"query": "q", "documents": ["a"]}), headers={"content-type": content_type})
    assert r.status_code == 200, r.text


def test_head_on_get_routes(url):
    for path in ("/health", "/ready", "/metrics", "/openapi.json"):
        get, head = httpx.get(url + path), httpx.head(url + path)
        assert head.status_code == 200 and head.content == b"", path
        assert head.headers["content-type"] == get.headers["content-type"]
        if path != "/metrics":  # its counters move between the two
            assert head.headers["content-length"] == get.headers["content-length"]
    r = httpx.head(url + "/v2/rerank")
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    r = httpx.post(url + "/health")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


def test_an_api_key_is_trimmed_as_http_trims_it_and_an_empty_one_refused():
    assert ServerConfig(api_key=" key \n").api_key == "key"
    for bad in ("", "  \n", "a\nb", "clé"):
        with pytest.raises(ValueError, match="api_key"):
            ServerConfig(api_key=bad)
