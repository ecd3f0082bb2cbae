"""Tokenization throughput: the native WordPiece fast path against `tokenizers`
(``encode_batch_fast``), on the same real English text with a little non-ASCII, on 1 and 2
threads; and ``Reranker.encode`` plus the whole host pipeline on ~60-token documents.

    pytest benchmarks/test_bench_tokenize.py --benchmark-only --benchmark-columns=median,ops

Tokens/s, documents/s and the share of tokens that fell back to `tokenizers` are in each
result's extra_info (``--benchmark-json``). With --benchmark-disable (CI) every case runs once
on a small batch.
"""

from __future__ import annotations

import pytest

from fastrerank import Reranker, tokenization

import texts


@pytest.fixture(scope="module")
def docs(benchmark_disabled) -> list[str]:
    """Paragraphs of Debian copyright/changelog files: real English, ~0.3% of tokens in chunks
    with non-ASCII characters."""
    found = texts.debian_documents(max_files=60, max_chars_per_file=10_000)
    if len(found) < 100:  # no /usr/share/doc here: the examples, repeated
        found = [*texts.DOCUMENTS, texts.LONG_DOCUMENT] * 200
    return found[:200] if benchmark_disabled else found


@pytest.fixture(scope="module")
def benchmark_disabled(request) -> bool:
    return bool(request.config.getoption("benchmark_disable", False))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("path", ["fast", "tokenizers"])
def test_tokenize(benchmark, minilm, docs, path, threads, monkeypatch):
    tok = tokenization.load(minilm, threads=threads)
    assert tok.is_fast, tok.fast_path_reason
    if path == "fast":
        run = tok.encode_ragged
    else:  # `tokenizers` spreads a batch over its rayon pool (all CPUs) unless told not to
        monkeypatch.setenv("TOKENIZERS_PARALLELISM", "true" if threads > 1 else "false")
        hf = tok._tok

        def run(batch):
            return hf.encode_batch_fast(batch, add_special_tokens=False)

    run(docs)  # warm: the span cache, rayon's pool, page faults
    before = tok.fallback_stats()
    benchmark(run, docs)
    ids, offsets = tok.encode_ragged(docs)
    after = tok.fallback_stats()
    tokens = int(offsets[-1])
    seconds = benchmark.stats.stats.median if benchmark.stats else None
    benchmark.extra_info.update(
        path=path,
        threads=threads,
        documents=len(docs),
        tokens=tokens,
        fallback_share=(after.fallback_tokens - before.fallback_tokens) / max(1, after.tokens - before.tokens),
        tokens_per_s=tokens / seconds if seconds else None,
    )


@pytest.mark.parametrize("batch_tokens", [1024, 16384])
def test_host_pipeline(benchmark, null_model, benchmark_disabled, batch_tokens):
    """Reranker.rerank end to end over a graph that does nothing: input checks, tokenization,
    packing, ONNX Runtime's call overhead, scoring and the response, for 1,000 documents of
    ~60 tokens (different ones every call, as a server sees them)."""
    n = 1000
    pool = texts.short_documents(2 * n if benchmark_disabled else 40 * n)
    rr = Reranker(null_model, max_batch_tokens=batch_tokens)
    assert rr.tokenizer.is_fast
    calls = iter(range(10**9))
    query = "who holds the copyright of this package and under which license"

    def rerank():
        start = (next(calls) * n) % (len(pool) - n)
        return rr.rerank(query, pool[start : start + n])

    rerank()
    resp = benchmark(rerank)
    assert len(resp.results) == n
    ids, offsets = rr.encode(pool[:n])
    seconds = benchmark.stats.stats.median if benchmark.stats else None
    benchmark.extra_info.update(
        documents=n,
        tokens_per_doc=float(offsets[-1]) / n,
        max_batch_tokens=batch_tokens,
        threads=rr.threads,
        pairs_per_s=n / seconds if seconds else None,
    )


def test_reranker_encode(benchmark, null_model, benchmark_disabled):
    """Reranker.encode (the engine's tokenization call) on 1,000 ~60-token documents."""
    n = 1000
    pool = texts.short_documents(2 * n if benchmark_disabled else 40 * n)
    rr = Reranker(null_model)
    calls = iter(range(10**9))

    def encode():
        start = (next(calls) * n) % (len(pool) - n)
        return rr.encode(pool[start : start + n])

    encode()
    benchmark(encode)
    seconds = benchmark.stats.stats.median if benchmark.stats else None
    benchmark.extra_info.update(threads=rr.tokenizer.threads, docs_per_s=n / seconds if seconds else None)
