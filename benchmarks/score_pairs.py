"""Reranker.score_pairs on many pairs: seconds, pairs/s and the memory the call adds, beside
rerank_many on the same pairs grouped by query (one pass over everything).

    python benchmarks/score_pairs.py MODEL_DIR [--pairs 100000] [--mix grouped|shuffled|distinct]
        [--method score_pairs|rerank_many] [--lazy]

The pairs come from fastrerank.bench.corpus (the benchmark's length mix); ``grouped``: 100
documents per query, in query order; ``shuffled``: the same pairs in random order; ``distinct``:
every pair its own query. ``--lazy`` (score_pairs, grouped or distinct): the pairs come from a
generator, made as they are read, so the memory the call adds no longer hides beside a list of
them (the bounded-memory claim, checked at any ``--pairs``; the time then includes making the
pairs). One run per process, so that peak memory is this call's: it prints one JSON line
(``peak_added_mib``: the peak resident memory during the call above the process's peak before
it, which already holds the model, and the pairs unless ``--lazy``).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import time
from collections.abc import Iterator

from fastrerank import Reranker
from fastrerank.bench.corpus import make_workload


def _rss_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("--pairs", type=int, default=100_000)
    p.add_argument("--mix", choices=["grouped", "shuffled", "distinct"], default="grouped")
    p.add_argument("--method", choices=["score_pairs", "rerank_many"], default="score_pairs")
    p.add_argument("--lazy", action="store_true", help="score_pairs on a generator of the pairs")
    args = p.parse_args()
    if args.lazy and (args.method != "score_pairs" or args.mix == "shuffled"):
        p.error("--lazy is for --method score_pairs with --mix grouped or distinct")

    per_query = 1 if args.mix == "distinct" else 100
    n_queries = max(1, args.pairs // per_query)
    rr = Reranker(args.model)
    if args.lazy:
        warm = make_workload(2, 100, seed=-1)
        rr.score_pairs([(q, d) for q, docs in zip(warm.queries, warm.documents) for d in docs])  # warm-up: ONNX Runtime's first calls
        rr.clear_token_cache()
        before = _rss_peak_mib()
        start = time.perf_counter()
        rr.score_pairs(_generated(n_queries, per_query))
        _report(args, n_queries * per_query, None, time.perf_counter() - start, rr, before)
        return
    work = make_workload(n_queries, per_query, seed=0)
    pairs = [(q, d) for q, docs in zip(work.queries, work.documents) for d in docs]
    if args.mix == "shuffled":
        random.Random(0).shuffle(pairs)
    rr.score_pairs(pairs[:200])  # warm-up: first calls set ONNX Runtime up
    rr.clear_token_cache()
    before = _rss_peak_mib()
    start = time.perf_counter()
    if args.method == "score_pairs":
        rr.score_pairs(pairs)
    else:
        grouped: dict[str, list[str]] = {}
        for q, d in pairs:
            grouped.setdefault(q, []).append(d)
        rr.rerank_many(list(grouped.items()))
    _report(args, len(pairs), len(set(q for q, _ in pairs)), time.perf_counter() - start, rr, before)


def _generated(n_queries: int, per_query: int) -> Iterator[tuple[str, str]]:
    """The pairs of ``n_queries`` queries, made a block of queries at a time as they are read."""
    block = 10_000 // per_query
    for seed in range(0, n_queries, block):
        work = make_workload(min(block, n_queries - seed), per_query, seed=seed)
        for q, docs in zip(work.queries, work.documents):
            for d in docs:
                yield q, d


def _report(args: argparse.Namespace, n_pairs: int, queries: int | None, seconds: float, rr: Reranker, before: float) -> None:
    stats = rr.stats()
    print(
        json.dumps(
            {
                "method": args.method,
                "mix": args.mix,
                "lazy": args.lazy,
                "pairs": n_pairs,
                "queries": queries,
                "seconds": round(seconds, 3),
                "pairs_per_s": round(n_pairs / seconds, 1),
                "model_calls": stats.model_calls,
                "peak_before_mib": round(before, 1),
                "peak_added_mib": round(max(0.0, _rss_peak_mib() - before), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
