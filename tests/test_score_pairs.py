"""Reranker.score_pairs: row-aligned pair scores (CrossEncoder.predict), in bounded chunks."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastrerank import Reranker, reranker

import texts

TEXTS = [*texts.DOCUMENTS, texts.LONG_DOCUMENT]


@pytest.fixture(scope="module")
def rr(tiny_models):
    return Reranker(tiny_models["bert-1"])


def one_by_one(rr, pairs, **options):
    """The plain reference: each pair ranked alone by rerank."""
    return np.array([rr.rerank(q, [d], **options).results[0].relevance_score for q, d in pairs], dtype=np.float32)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pairs=st.lists(st.tuples(st.sampled_from(texts.QUERIES), st.sampled_from(TEXTS)), max_size=30),
    keep=st.sampled_from([4096, 40, 3]),
    windows=st.sampled_from([None, 1, 2]),
    side=st.sampled_from(["right", "left"]),
)
def test_each_score_is_what_rerank_gives_the_pair(rr, pairs, keep, windows, side):
    options = {"max_tokens_per_doc": keep, "max_windows_per_doc": windows, "truncation_side": side}
    scores = rr.score_pairs(pairs, **options)
    assert scores.dtype == np.float32 and scores.shape == (len(pairs),)
    np.testing.assert_allclose(scores, one_by_one(rr, pairs, **options), atol=1e-5)


def test_a_generator_in_chunks_gives_the_same_scores(rr, monkeypatch):
    pairs = [(texts.QUERIES[i % 3], TEXTS[i % len(TEXTS)]) for i in range(40)]
    whole = rr.score_pairs(pairs)
    monkeypatch.setattr(reranker, "SCORE_PAIRS_CHUNK_PAIRS", 7)  # a query's pairs fall in several chunks
    np.testing.assert_allclose(rr.score_pairs(p for p in pairs), whole, atol=1e-6)
    monkeypatch.setattr(reranker, "SCORE_PAIRS_CHUNK_CHARS", 1)  # one pair per chunk
    np.testing.assert_allclose(rr.score_pairs(iter(pairs)), whole, atol=1e-6)


def test_memory_is_bounded_the_pairs_are_read_a_chunk_at_a_time(rr, monkeypatch):
    monkeypatch.setattr(reranker, "SCORE_PAIRS_CHUNK_PAIRS", 5)
    monkeypatch.setattr(reranker, "SCORE_PAIRS_CHUNK_CHARS", 200)
    read = [0]
    seen = []  # (pairs read so far, pairs in the call) at each score_encoded call

    def pairs():
        for i in range(23):
            read[0] += 1
            yield texts.QUERIES[i % 2], "x " * (150 if i == 11 else 3)  # pair 11 alone passes the characters

    real = rr.score_encoded
    monkeypatch.setattr(
        rr, "score_encoded", lambda requests, **kw: seen.append((read[0], sum(r.n_docs for r in requests))) or real(requests, **kw)
    )
    assert rr.score_pairs(pairs()).shape == (23,)
    assert [n for _, n in seen] == [5, 5, 2, 5, 5, 1]  # cut at 5 pairs, and where pair 11 passes 200 characters
    assert [at for at, _ in seen] == np.cumsum([n for _, n in seen]).tolist()  # nothing read ahead of the chunk


def test_each_distinct_query_is_tokenized_once_and_all_pairs_share_the_batches(tiny_models, monkeypatch):
    rr = Reranker(tiny_models["bert-1"], token_cache_bytes=0)
    calls = []
    real = rr.tokenizer.encode_ragged
    monkeypatch.setattr(rr.tokenizer, "encode_ragged", lambda batch: calls.append(list(batch)) or real(batch))
    pairs = [(texts.QUERIES[i % 4], TEXTS[i % 7]) for i in range(60)]
    before = rr.stats().model_calls
    rr.score_pairs(pairs)
    used = rr.stats().model_calls - before
    assert len(calls) == 2 and sorted(calls[0]) == sorted(texts.QUERIES)  # the queries in one call, each once
    assert sorted(calls[1]) == sorted(d for _, d in pairs)  # every document once, in one call
    grouped = [(q, [d for p, d in pairs if p == q]) for q in texts.QUERIES]
    before = rr.stats().model_calls
    rr.rerank_many(grouped)
    assert used == rr.stats().model_calls - before  # the same batches as one rerank_many pass
    before = rr.stats().model_calls
    for q, docs in grouped:
        rr.rerank(q, docs)
    assert used < rr.stats().model_calls - before  # fewer than scoring query by query


def test_normalize_overrides_for_the_call(tiny_models, rr):
    pairs = [(q, d) for q in texts.QUERIES[:2] for d in TEXTS[:5]]
    raw = rr.score_pairs(pairs, normalize="none")
    np.testing.assert_allclose(raw, one_by_one(Reranker(tiny_models["bert-1"], normalize="none"), pairs), atol=1e-5)
    np.testing.assert_allclose(1 / (1 + np.exp(-raw)), rr.score_pairs(pairs), atol=1e-6)


def test_two_logit_and_xlmr_models(tiny_models):
    pairs = [(q, d) for q in texts.QUERIES for d in TEXTS[::3]]
    for name in ("bert-2", "xlmr"):
        rr = Reranker(tiny_models[name])
        np.testing.assert_allclose(rr.score_pairs(pairs), one_by_one(rr, pairs), atol=1e-5)


def test_bad_pairs_are_named_and_the_reranker_keeps_working(rr):
    assert rr.score_pairs([]).shape == (0,) and rr.score_pairs(iter([])).dtype == np.float32
    with pytest.raises(ValueError, match=r"pairs\[2\]: query is empty"):
        rr.score_pairs([("q", "a"), ("q", "b"), (" ", "c")])
    with pytest.raises(TypeError, match=r"pairs\[1\]: the document must be a str"):
        rr.score_pairs([("q", "a"), ("q", None)])
    with pytest.raises(TypeError, match=r"pairs\[0\] must be a \(query, document\) pair"):
        rr.score_pairs(["q"])
    with pytest.raises(TypeError, match=r"pairs\[0\] must be a \(query, document\) pair"):
        rr.score_pairs([("q", "a", "b")])
    for bad in ("query", None, {"q": "d"}, 3):
        with pytest.raises(TypeError, match="pairs must be an iterable"):
            rr.score_pairs(bad)
    untouched = iter([("q", "a")])
    with pytest.raises(ValueError, match="max_tokens_per_doc"):
        rr.score_pairs(untouched, max_tokens_per_doc=0)
    with pytest.raises(ValueError, match="normalize"):
        rr.score_pairs(untouched, normalize="tanh")
    with pytest.raises(TypeError, match="show_progress"):
        rr.score_pairs(untouched, show_progress="yes")
    assert next(untouched) == ("q", "a")  # options are checked before a pair is read
    assert rr.score_pairs([["q", "a"]]).tolist() == rr.score_pairs([("q", "a")]).tolist()


def test_progress_bar(rr, monkeypatch, capsys):
    pairs = [("q", "a"), ("q", "b"), ("r", "c")]
    assert rr.score_pairs(pairs, show_progress=True).shape == (3,)
    assert "3/3" in capsys.readouterr().err
    rr.score_pairs(iter(pairs), show_progress=True)
    assert "3 pairs" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "tqdm", None)  # tqdm not installed
    untouched = iter(pairs)
    with pytest.raises(ImportError, match="pip install tqdm"):
        rr.score_pairs(untouched, show_progress=True)
    assert next(untouched) == ("q", "a")
    assert rr.score_pairs(pairs).shape == (3,)  # no bar asked, no tqdm needed
