"""Reranker.score_pairs on many pairs: seconds, pairs/s and the memory the call adds, beside
rerank_many on the same pairs grouped by query (one pass over everything).

    python benchmarks/score_pairs.py MODEL_DIR [--pairs 100000] [--mix grouped|shuffled|distinct] [--method score_pairs|rerank_many]

The pairs come from fastrerank.bench.corpus (the benchmark's length mix); ``grouped``: 100
documents per query, in query order; ``shuffled``: the same pairs in random order; ``distinct``:
every pair its own query. One run per process, so that peak memory is this call's: it prints
one JSON line (``peak_added_mib``: the peak resident memory during the call above the process's
peak before it, which already holds the model and the pairs).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import time

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
    args = p.parse_args()

    per_query = 1 if args.mix == "distinct" else 100
    work = make_workload(max(1, args.pairs // per_query), per_query, seed=0)
    pairs = [(q, d) for q, docs in zip(work.queries, work.documents) for d in docs]
    if args.mix == "shuffled":
        random.Random(0).shuffle(pairs)
    rr = Reranker(args.model)
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
    seconds = time.perf_counter() - start
    stats = rr.stats()
    print(
        json.dumps(
            {
                "method": args.method,
                "mix": args.mix,
                "pairs": len(pairs),
                "queries": len(set(q for q, _ in pairs)),
                "seconds": round(seconds, 3),
                "pairs_per_s": round(len(pairs) / seconds, 1),
                "model_calls": stats.model_calls,
                "peak_before_mib": round(before, 1),
                "peak_added_mib": round(max(0.0, _rss_peak_mib() - before), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
