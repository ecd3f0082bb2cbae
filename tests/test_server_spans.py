"""The server's span options (fastrerank extensions): /v2/rerank and /v1/rerank take max_spans and
span_tokens and answer results[].spans as the library does; the official cohere SDK still parses
the answer; bad values are a 400 naming them; Cohere's own relevant_spans stays refused."""

from __future__ import annotations

import cohere
import httpx
import pytest

from fastrerank import Reranker
from fastrerank.server.app import App
from fastrerank.server.config import ServerConfig
from fastrerank.server.stub import StubEngine

from server_utils import assert_same_ranking, live
from texts import DOCUMENTS, LONG_DOCUMENT, QUERIES, SUPPORT_EMAILS

DOCS = [*DOCUMENTS, LONG_DOCUMENT]
SPANS = {"max_spans": 2, "span_tokens": 16}


@pytest.fixture(scope="module")
def rr(tiny_models):
    return Reranker(tiny_models["bert-1"])


@pytest.fixture(scope="module")
def url(rr):
    with live(App(ServerConfig(model_name="tiny-bert", tokenize_inline_chars=100), rr)) as u:  # long requests cut on the pool
        yield u


def _same_spans(got: list[dict], want: list[dict]) -> None:
    assert [(s["start"], s["end"]) for s in got] == [(s["start"], s["end"]) for s in want]
    assert all(abs(g["relevance_score"] - w["relevance_score"]) <= 1e-5 for g, w in zip(got, want))


def test_cohere_v2_client_parses_spans(rr, url):
    co = cohere.ClientV2(base_url=url, api_key="anything")
    got = co.rerank(model="m", query=QUERIES[0], documents=DOCS, top_n=3, request_options={"additional_body_parameters": SPANS})
    want = rr.rerank(QUERIES[0], DOCS, top_n=3, **SPANS).to_dict()["results"]
    assert_same_ranking([{"index": r.index, "relevance_score": r.relevance_score} for r in got.results], want)
    for g, w in zip(got.results, want):
        assert g.relevant_spans is None  # Cohere's own field stays empty: ours is an extension
        _same_spans(g.model_extra["spans"], w["spans"])
    plain = co.rerank(model="m", query=QUERIES[0], documents=DOCS, top_n=3)
    assert all("spans" not in (r.model_extra or {}) for r in plain.results)


def test_cohere_v1_client_parses_spans_of_dict_documents(rr, url):
    co = cohere.Client(base_url=url, api_key="anything")
    got = co.rerank(
        query=QUERIES[1],
        documents=SUPPORT_EMAILS,
        rank_fields=["Title", "Content"],
        top_n=2,
        request_options={"additional_body_parameters": SPANS},
    )
    want = rr.rerank(QUERIES[1], SUPPORT_EMAILS, top_n=2, rank_fields=["Title", "Content"], **SPANS).to_dict()["results"]
    assert_same_ranking([{"index": r.index, "relevance_score": r.relevance_score} for r in got.results], want)
    for g, w in zip(got.results, want):
        _same_spans(g.model_extra["spans"], w["spans"])


@pytest.mark.parametrize("path", ["/v2/rerank", "/v1/rerank", "/rerank"])
def test_routes_answer_spans_as_the_library(rr, url, path):
    body = {"query": QUERIES[0], "documents": DOCS, "top_n": 4, "max_spans": 3.0, "span_tokens": 12}  # 3.0: a JSON integer
    r = httpx.post(url + path, json=body, timeout=60)
    assert r.status_code == 200, r.text
    windows = None if path == "/v2/rerank" else ServerConfig().v1_max_chunks_per_doc  # v1 keeps at most 10 windows
    want = rr.rerank(QUERIES[0], DOCS, top_n=4, max_windows_per_doc=windows, max_spans=3, span_tokens=12).to_dict()
    got = r.json()
    assert_same_ranking(got["results"], want["results"])
    for g, w in zip(got["results"], want["results"]):
        _same_spans(g["spans"], w["spans"])
    assert got["meta"]["billed_units"] == want["meta"]["billed_units"]
    without = httpx.post(url + path, json={"query": QUERIES[0], "documents": DOCS, "top_n": 4}, timeout=60).json()
    assert all("spans" not in x for x in without["results"])
    assert_same_ranking(without["results"], got["results"])


@pytest.mark.parametrize(
    "extra, needle",
    [
        ({"max_spans": -1}, "max_spans"),
        ({"max_spans": 1.5}, "max_spans"),
        ({"max_spans": "2"}, "max_spans"),
        ({"max_spans": True}, "max_spans"),
        ({"max_spans": 2, "span_tokens": 0}, "span_tokens"),
        ({"max_spans": 2, "span_tokens": 2.5}, "span_tokens"),
    ],
)
@pytest.mark.parametrize("path", ["/v2/rerank", "/v1/rerank"])
def test_bad_span_options_are_400(url, path, extra, needle):
    r = httpx.post(url + path, json={"query": "q", "documents": ["a. b."], **extra})
    assert r.status_code == 400 and needle in r.json()["message"], r.text


def test_cohere_relevant_spans_stay_refused(url):
    r = httpx.post(url + "/v2/rerank", json={"query": "q", "documents": ["a"], "max_spans": 1, "relevant_spans": {"mode": "enabled"}})
    assert r.status_code == 422 and "relevant_spans" in r.json()["message"]


def test_openapi_documents_the_span_options(url):
    schemas = httpx.get(url + "/openapi.json").json()["components"]["schemas"]
    for request in ("V2RerankRequest", "V1RerankRequest"):
        props = schemas[request]["properties"]
        assert "fastrerank extension" in props["max_spans"]["description"] and "span_tokens" in props
    for result in ("RerankResult", "V1Result"):
        assert "spans" in schemas[result]["properties"]
    assert set(schemas["Span"]["properties"]) == {"start", "end", "relevance_score"}


def test_stub_engine_serves_spans():
    text = "one two three four five six seven eight nine ten"
    with live(App(ServerConfig(), StubEngine())) as stub_url:
        r = httpx.post(stub_url + "/v2/rerank", json={"query": "q", "documents": [text, ""], "max_spans": 10, "span_tokens": 3})
    assert r.status_code == 200, r.text
    by_index = {x["index"]: x for x in r.json()["results"]}
    assert by_index[1]["spans"] == []
    pieces = sorted((s["start"], s["end"]) for s in by_index[0]["spans"])
    assert " ".join(text[a:b] for a, b in pieces) == text  # the stub's words, three at a time, cover the text


class _CountingStub(StubEngine):
    """A stub that counts the offsets asked of it and the documents it scores."""

    def __init__(self) -> None:
        super().__init__()
        self.offsets = self.scored = 0

    def char_offsets(self, texts):
        self.offsets += 1
        return super().char_offsets(texts)

    def score_encoded(self, requests, **kwargs):
        self.scored += sum(r.n_docs for r in requests)
        return super().score_encoded(requests, **kwargs)


@pytest.mark.parametrize("path", ["/v2/rerank", "/v1/rerank"])
def test_without_max_spans_nothing_more_runs(path):
    engine = _CountingStub()
    body = {"query": "q", "documents": ["one two. three four.", "five six"], "top_n": 1}
    with live(App(ServerConfig(), engine)) as stub_url:
        engine.offsets = engine.scored = 0  # what the queue scored to measure the engine before serving does not count
        for extra in ({}, {"max_spans": 0, "span_tokens": 4}):
            assert "spans" not in httpx.post(stub_url + path, json={**body, **extra}).json()["results"][0]
        assert (engine.offsets, engine.scored) == (0, 4)
        assert len(httpx.post(stub_url + path, json={**body, "max_spans": 1}).json()["results"][0]["spans"]) == 1
        assert (engine.offsets, engine.scored) == (1, 7)  # the returned document's offsets and its one segment
