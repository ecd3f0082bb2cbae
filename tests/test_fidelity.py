"""fastrerank scores equal the transformers / sentence-transformers reference: fp32 within 1e-4,
same order. Tiny random BERT (1 and 2 logits), XLM-R, ModernBERT and DeBERTa-v2, and the
real-size MiniLM-L6 model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fastrerank import Reranker, registry

import texts
from hf_reference import Reference, assert_same_ranking

TOLERANCE = 1e-4
# One tiny model per architecture built here (models/tiny_models.py).
PARITY_MODELS = ["bert-1", "bert-2", "xlmr", "modernbert", "deberta"]


def by_index(response, n: int) -> np.ndarray:
    out = np.full(n, np.nan)
    for r in response.results:
        out[r.index] = r.relevance_score
    return out


@pytest.mark.parametrize("name", PARITY_MODELS)
@pytest.mark.parametrize("query", texts.QUERIES)
def test_tiny_models_match_transformers(tiny_models, name, query):
    rr = Reranker(tiny_models[name])
    ref = Reference(tiny_models[name])
    docs = texts.DOCUMENTS + [texts.LONG_DOCUMENT]
    resp = rr.rerank(query, docs)
    want = ref.scores(query, docs, rr.max_length)
    got = by_index(resp, len(docs))
    assert np.abs(got - want).max() <= TOLERANCE
    assert_same_ranking([r.index for r in resp.results], want)
    # the long document really was windowed, and the windows differ
    assert len(ref.windows(query, texts.LONG_DOCUMENT, rr.max_length)) > 3


def test_every_architecture_the_registry_says_runs_is_parity_tested(tiny_models):
    tested = {json.loads((tiny_models[name] / "config.json").read_text())["model_type"] for name in PARITY_MODELS}
    kinds = registry.architectures()
    assert {e.architecture for e in registry.entries()} <= set(kinds)
    assert {k.name for k in kinds.values() if k.exercised} <= tested


@pytest.mark.parametrize("name", ["bert-1", "xlmr", "modernbert"])
def test_max_tokens_per_doc_and_windows_match_reference(tiny_models, name):
    rr = Reranker(tiny_models[name])
    ref = Reference(tiny_models[name])
    query = texts.QUERIES[0]
    docs = [texts.LONG_DOCUMENT, texts.LONG_DOCUMENT[500:], texts.DOCUMENTS[3]]
    for max_tokens in (1, 7, 50, 300):
        resp = rr.rerank(query, docs, max_tokens_per_doc=max_tokens)
        want = np.array([ref.score(query, d, rr.max_length, max_tokens) for d in docs])
        assert np.abs(by_index(resp, len(docs)) - want).max() <= TOLERANCE
        windows = sum(len(ref.windows(query, d, rr.max_length, max_tokens)) for d in docs)
        assert resp.meta.billed_units.search_units == max(1, -(-windows // 100))


def test_a_window_can_beat_the_first(tiny_models):
    """The document's score is the max over its windows, not the first window's."""
    rr = Reranker(tiny_models["bert-1"])
    ref = Reference(tiny_models["bert-1"])
    # The tiny model's vocabulary is trained at build time (ties ordered differently from build
    # to build): look for a pair whose best window is not its first, rather than fixing one.
    for query in texts.QUERIES:
        for start in (0, 300, 700):
            doc = texts.LONG_DOCUMENT[start:]
            scores = [ref._run(ids, types, "auto") for ids, types in ref.windows(query, doc, rr.max_length)]
            if max(scores) > scores[0] + 1e-3:
                got = rr.rerank(query, [doc]).results[0].relevance_score
                assert abs(got - max(scores)) <= TOLERANCE
                return
    pytest.fail("no query/document pair here has a later window beating the first: this test proves nothing")


@pytest.mark.parametrize("normalize", ["sigmoid", "none"])
def test_normalize_overrides(tiny_models, normalize):
    rr = Reranker(tiny_models["bert-1"], normalize=normalize)
    ref = Reference(tiny_models["bert-1"])
    docs = texts.DOCUMENTS[:6]
    got = by_index(rr.rerank(texts.QUERIES[0], docs), len(docs))
    want = ref.scores(texts.QUERIES[0], docs, rr.max_length, how=normalize)
    assert np.abs(got - want).max() <= TOLERANCE
    if normalize == "none":
        assert (got < 0).any() or (got > 1).any()  # raw logits really are unbounded


def test_two_logit_model_softmax_and_raw(tiny_models):
    ref = Reference(tiny_models["bert-2"])
    docs = texts.DOCUMENTS[:8]
    for how in ("softmax", "none", "sigmoid"):
        rr = Reranker(tiny_models["bert-2"], normalize=how)
        got = by_index(rr.rerank(texts.QUERIES[0], docs), len(docs))
        assert np.abs(got - ref.scores(texts.QUERIES[0], docs, rr.max_length, how=how)).max() <= TOLERANCE


@pytest.mark.parametrize("budget", [1, 64, 100_000])
def test_batch_budget_does_not_change_scores(tiny_models, budget):
    docs = texts.DOCUMENTS + [texts.LONG_DOCUMENT]
    base = by_index(Reranker(tiny_models["bert-1"]).rerank(texts.QUERIES[0], docs), len(docs))
    other = by_index(Reranker(tiny_models["bert-1"], max_batch_tokens=budget).rerank(texts.QUERIES[0], docs), len(docs))
    assert np.abs(base - other).max() <= 1e-5


def test_minilm_matches_sentence_transformers(minilm):
    from sentence_transformers import CrossEncoder

    ce = CrossEncoder(str(minilm), device="cpu")
    rr = Reranker(minilm)
    docs = [d for d in texts.DOCUMENTS]
    worst = 0.0
    for query in texts.QUERIES:
        want = ce.predict([(query, d) for d in docs], batch_size=8)
        resp = rr.rerank(query, docs)
        got = by_index(resp, len(docs))
        worst = max(worst, float(np.abs(got - want).max()))
        assert_same_ranking([r.index for r in resp.results], want)
    assert worst <= TOLERANCE, worst


def test_minilm_long_document_is_max_over_reference_windows(minilm):
    rr = Reranker(minilm)
    ref = Reference(minilm)
    query = texts.QUERIES[0]
    got = rr.rerank(query, [texts.LONG_DOCUMENT]).results[0].relevance_score
    assert len(ref.windows(query, texts.LONG_DOCUMENT, rr.max_length)) >= 2
    assert abs(got - ref.score(query, texts.LONG_DOCUMENT, rr.max_length)) <= TOLERANCE
