"""The core alone, no model: pack (plan + materialise every batch), scoring (scatter_max + top_n),
and both together, for 100 and 1000 documents of ~200 tokens.

    pytest benchmarks/test_bench_core.py --benchmark-only
"""

from __future__ import annotations

import numpy as np
import pytest

from fastrerank import _core

BERT = _core.PairTemplate(
    prefix=[101], prefix_types=[0], query_type=0, middle=[102], middle_types=[0], doc_type=1, suffix=[102], suffix_types=[1]
)


def corpus(n_docs: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(150, 250, size=n_docs)  # ~200 tokens
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(lengths)
    ids = rng.integers(1000, 30000, size=int(offsets[-1]), dtype=np.int32)
    query = rng.integers(1000, 30000, size=12, dtype=np.int32)
    return query, ids, offsets


def finalize(logits, row_maps, n_docs, top_n):
    """What the engine does after the model: per-document scores, then the top n."""
    return _core.top_n(_core.scatter_max(logits, row_maps, n_docs, "auto"), top_n)


def pack_and_finalize(query, ids, offsets, logits_by_batch):
    packed = _core.pack(query, ids, offsets, BERT, max_length=512, max_tokens_per_doc=4096, max_batch_tokens=1024, pad_id=0)
    row_maps = []
    for i in range(len(packed)):
        _, _, _, rows = packed.batch(i)  # the model would run here; its inputs die with the loop
        row_maps.append(rows)
    return finalize(logits_by_batch(packed), row_maps, len(offsets) - 1, 10)


@pytest.mark.parametrize("n_docs", [100, 1000])
def test_pack_finalize(benchmark, n_docs):
    query, ids, offsets = corpus(n_docs)
    packed = _core.pack(query, ids, offsets, BERT, max_length=512, max_tokens_per_doc=4096, max_batch_tokens=1024, pad_id=0)
    rng = np.random.default_rng(1)
    logits = [rng.standard_normal((rows, 1)).astype(np.float32) for rows, _ in packed.batch_shapes]
    idx, scores = benchmark(pack_and_finalize, query, ids, offsets, lambda p: logits)
    assert len(idx) == 10 and np.all(np.diff(scores) <= 0)
    benchmark.extra_info["n_docs"] = n_docs
    benchmark.extra_info["tokens"] = int(offsets[-1])


@pytest.mark.parametrize("n_docs", [100, 1000])
def test_pack(benchmark, n_docs):
    query, ids, offsets = corpus(n_docs)

    def pack():
        packed = _core.pack(query, ids, offsets, BERT, max_length=512, max_tokens_per_doc=4096, max_batch_tokens=1024, pad_id=0)
        return [packed.batch(i)[3] for i in range(len(packed))]  # as the engine: one batch's inputs alive at a time

    rows = np.concatenate(benchmark(pack))
    assert sorted(rows.tolist()) == list(range(n_docs))  # ~200-token documents: one window each
    benchmark.extra_info["n_docs"] = n_docs


@pytest.mark.parametrize("n_docs", [100, 1000])
def test_finalize(benchmark, n_docs):
    query, ids, offsets = corpus(n_docs)
    packed = _core.pack(query, ids, offsets, BERT, max_length=512, max_tokens_per_doc=4096, max_batch_tokens=1024, pad_id=0)
    row_maps = [packed.batch(i)[3] for i in range(len(packed))]
    rng = np.random.default_rng(1)
    logits = [rng.standard_normal((len(rows), 1)).astype(np.float32) for rows in row_maps]
    idx, scores = benchmark(finalize, logits, row_maps, n_docs, n_docs)
    assert sorted(idx.tolist()) == list(range(n_docs)) and np.all(np.diff(scores) <= 0)
    benchmark.extra_info["n_docs"] = n_docs
