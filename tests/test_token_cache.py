"""The token-id cache: same ids as the tokenizer, bounded, LRU, thread-safe."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from fastrerank import Reranker
from fastrerank.token_cache import TokenCache


def fake_encoder(calls):
    def encode(texts):
        calls.append(list(texts))
        ids = [[len(w) for w in t.split()] for t in texts]
        offsets = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum([len(x) for x in ids], out=offsets[1:])
        return np.array([i for x in ids for i in x], dtype=np.int32), offsets

    return encode


def test_hits_skip_the_encoder_and_give_the_same_ids():
    calls = []
    cache = TokenCache(1 << 20)
    enc = fake_encoder(calls)
    first = cache.encode_ragged(["a bb", "ccc", ""], enc)
    second = cache.encode_ragged(["ccc", "a bb", "dddd e", ""], enc)
    assert calls == [["a bb", "ccc", ""], ["dddd e"]]
    assert first[0].tolist() == [1, 2, 3] and first[1].tolist() == [0, 2, 3, 3]
    assert second[0].tolist() == [3, 1, 2, 4, 1] and second[1].tolist() == [0, 1, 3, 5, 5]
    assert second[0].dtype == np.int32 and second[1].dtype == np.int64
    assert (cache.hits, cache.misses) == (3, 4)


def test_bounded_lru():
    calls = []
    cache = TokenCache(max_bytes=30)
    enc = fake_encoder(calls)
    cache.encode_ragged(["aaaa", "bbbb", "cccc"], enc)  # 4 + 4 bytes each: 24
    cache.encode_ragged(["aaaa"], enc)  # touch a: b is now the oldest
    cache.encode_ragged(["dddd"], enc)  # 32 > 30: evict b
    assert cache.bytes <= 30 and len(cache) == 3
    calls.clear()
    cache.encode_ragged(["aaaa", "bbbb", "cccc", "dddd"], enc)
    assert calls == [["bbbb"]]


def test_disabled_and_oversized():
    calls = []
    off = TokenCache(0)
    off.encode_ragged(["x"], fake_encoder(calls))
    off.encode_ragged(["x"], fake_encoder(calls))
    assert len(calls) == 2 and len(off) == 0
    small = TokenCache(1 << 20, max_text_chars=3)
    small.encode_ragged(["long text"], fake_encoder(calls))
    assert len(small) == 0
    with pytest.raises(ValueError, match="token_cache_bytes"):
        TokenCache(-1)
    with pytest.raises(TypeError, match="token_cache_bytes"):
        TokenCache(1.5)  # type: ignore[arg-type]


def test_reranker_with_and_without_cache_agree(tiny_models):
    docs = ["alpha beta", "the capital of france", "", "gamma " * 50]
    cached = Reranker(tiny_models["bert-1"])
    plain = Reranker(tiny_models["bert-1"], token_cache_bytes=0)
    for _ in range(3):
        a, b = cached.rerank("capital", docs), plain.rerank("capital", docs)
        assert [(r.index, r.relevance_score) for r in a.results] == [(r.index, r.relevance_score) for r in b.results]
    assert cached.stats().cache_hits > 0 and plain.stats().cache_bytes == 0 and plain.stats().cache_hits == 0
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda i: [r.index for r in cached.rerank("capital", docs[i % 4 :] + docs).results], range(40)))
    assert outs[:4] == outs[4:8]


@pytest.mark.parametrize("model", ["bert-1", "xlmr"])
def test_chunked_encoding_gives_the_same_ids(tiny_models, monkeypatch, model):
    from fastrerank import tokenization

    texts = [f"document {i} " + "word " * (i % 40) for i in range(300)] + ["", "x"]
    tok = tokenization.load(tiny_models[model], fast=False)  # `tokenizers` is what is chunked
    whole = tok.encode_ragged(texts)
    monkeypatch.setattr(tokenization, "ENCODE_CHUNK_CHARS", 100)  # many chunks
    chunked = tok.encode_ragged(texts)
    assert np.array_equal(whole[0], chunked[0]) and np.array_equal(whole[1], chunked[1])
    assert whole[1][-1] == len(whole[0]) and len(whole[1]) == len(texts) + 1
