"""The response is exactly the Cohere Rerank v2 shape; the Cohere documentation examples run."""

from __future__ import annotations

import json
import uuid

import pytest

from fastrerank import Reranker, RerankResponse
from fastrerank.types import search_units

import reference as ref
from texts import CAPITAL_DOCS, SUPPORT_EMAILS


@pytest.fixture(scope="module")
def rr(tiny_models):
    return Reranker(tiny_models["bert-1"])


def test_capital_example_has_the_documented_shape(rr):
    resp = rr.rerank("What is the capital of the United States?", CAPITAL_DOCS, top_n=3)
    d = resp.to_dict()
    assert list(d) == ["results", "id", "meta"]
    assert d["meta"] == {"api_version": {"version": "2", "is_experimental": False}, "billed_units": {"search_units": 1}}
    assert len(d["results"]) == 3
    for r in d["results"]:
        assert list(r) == ["index", "relevance_score"]
        assert type(r["index"]) is int and type(r["relevance_score"]) is float
        assert 0.0 <= r["relevance_score"] <= 1.0
    scores = [r["relevance_score"] for r in d["results"]]
    assert scores == sorted(scores, reverse=True)
    assert uuid.UUID(d["id"]).version == 4
    assert json.loads(json.dumps(d)) == d
    # top 3 of all
    full = rr.rerank("What is the capital of the United States?", CAPITAL_DOCS)
    assert [r.index for r in full.results[:3]] == [r["index"] for r in d["results"]]


def test_support_emails_with_rank_fields(rr):
    resp = rr.rerank("What emails have been about returning items?", SUPPORT_EMAILS, top_n=5, rank_fields=["Title", "Content"])
    assert len(resp.results) == 5
    assert all("document" not in r for r in resp.to_dict()["results"])
    # the ranked text is the YAML-style `key: value` lines, in rank_fields order
    expected = [f"Title: {e['Title']}\nContent: {e['Content']}" for e in SUPPORT_EMAILS]
    assert [r.index for r in resp.results] == [
        r.index for r in rr.rerank("What emails have been about returning items?", expected, top_n=5).results
    ]


def test_return_documents(rr):
    resp = rr.rerank("capital", CAPITAL_DOCS[:2], return_documents=True)
    for r in resp.to_dict()["results"]:
        assert r["document"] == {"text": CAPITAL_DOCS[r["index"]]}
    resp = rr.rerank("returns", SUPPORT_EMAILS[:3], rank_fields=["Title"], return_documents=True)
    for r in resp.results:
        assert r.document == SUPPORT_EMAILS[r.index]


def test_dicts_without_rank_fields_use_text(rr):
    docs = [{"text": CAPITAL_DOCS[0], "id": 7}, {"text": CAPITAL_DOCS[3]}]
    a = rr.rerank("capital of the US", docs)
    b = rr.rerank("capital of the US", [CAPITAL_DOCS[0], CAPITAL_DOCS[3]])
    assert [(r.index, r.relevance_score) for r in a.results] == [(r.index, r.relevance_score) for r in b.results]


def test_top_n_bounds_and_fresh_ids(rr):
    assert len(rr.rerank("q", CAPITAL_DOCS, top_n=1).results) == 1
    assert len(rr.rerank("q", CAPITAL_DOCS, top_n=99).results) == len(CAPITAL_DOCS)
    ids = {rr.rerank("q", CAPITAL_DOCS).id for _ in range(5)}
    assert len(ids) == 5


def test_ids_are_random_version_4_uuids():
    from fastrerank.types import new_id

    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for i in ids[:200]:
        u = uuid.UUID(i)
        assert u.version == 4 and u.variant == uuid.RFC_4122 and str(u) == i


def test_search_units_rule():
    assert [search_units(n) for n in (0, 1, 100, 101, 250, 1000)] == [1, 1, 1, 2, 3, 10]


def test_windows_are_billed(tiny_models):
    rr = Reranker(tiny_models["xlmr"])  # a 64-token window
    long_doc = "word " * 2000
    resp = rr.rerank("q", [long_doc] * 3)
    special = rr.template.special_tokens
    q = min(len(rr.tokenizer.encode_ids(["q"])[0]), ref.query_limit(special, rr.max_length))
    window = ref.doc_window(special, rr.max_length, q)
    kept = ref.kept_part(rr.tokenizer.encode_ids([long_doc])[0], window, 4096, None, False)  # max_tokens_per_doc's default
    windows = 3 * -(-len(kept) // window)
    assert resp.meta.billed_units.search_units == max(1, -(-windows // 100))
    assert resp.meta.billed_units.search_units > 1


def test_response_is_frozen(rr):
    resp = rr.rerank("q", CAPITAL_DOCS)
    assert isinstance(resp, RerankResponse)
    with pytest.raises(AttributeError):
        resp.id = "x"  # type: ignore[misc]
