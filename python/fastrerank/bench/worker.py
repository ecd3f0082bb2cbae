"""One benchmarked system in its own process, driven over stdin/stdout by compare.py.

    python -m fastrerank.bench.worker --system NAME --model DIR --threads N --workdir W --workload FILE

FILE holds the workloads by name (``corpus.save_workloads``). Prints one JSON line when loaded
({"ready": ...} or {"error": ...}), then answers each JSON command line with one JSON line:
    {"cmd": "run", "workload": name, "query": i, "scores": bool}
                                         one query of a workload: {"seconds" (the ceiling:
                                         "budgets": {budget: seconds}), "scores"?, "others"}
    {"cmd": "latency", "docs": n, "calls": k, "words": w?}   per-call latency of n documents
    {"cmd": "host", "calls": k}          host pipeline pairs/s, ~60-token documents (null graph)
    {"cmd": "memory", "calls": k}        resident memory over k calls of varied shapes
    {"cmd": "quit"}
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

from fastrerank.bench.corpus import Workload, load_workloads, make_workload


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def _reply(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _others_busy() -> float:
    """CPU seconds every other process has used so far (the machine's busy time minus ours):
    how much the timed runs had to share the machine."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        mine = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (sum(fields) - fields[3] - fields[4] - int(mine[11]) - int(mine[12])) / ticks
    except (OSError, IndexError, ValueError):
        return 0.0


def _run(rank: Any, query: str, docs: list[str], want_scores: bool) -> dict[str, Any]:
    others = _others_busy()
    start = time.perf_counter()
    scores = rank(query, docs)
    out: dict[str, Any] = {"seconds": time.perf_counter() - start, "others": _others_busy() - others}
    if want_scores:
        out["scores"] = scores.tolist()
    return out


def _latency(rank: Any, n_docs: int, calls: int, seed: int, words: int | None) -> dict[str, Any]:
    workload = make_workload(calls, n_docs, seed=seed)
    if words is not None:  # documents of a fixed length
        long_text = " ".join(make_workload(1, 50, seed=seed).documents[0]).split()
        rng = random.Random(seed)
        fixed: list[list[str]] = []
        for _ in range(calls):
            starts = [rng.randrange(0, len(long_text) - words) for _ in range(n_docs)]
            fixed.append([" ".join(long_text[s : s + words]) for s in starts])
        workload = Workload(workload.queries, fixed, seed)
    rr = getattr(rank, "reranker", None)
    session_before = rr.stats().model_seconds if rr is not None else 0.0
    times = []
    for query, docs in zip(workload.queries, workload.documents):
        start = time.perf_counter()
        rank(query, docs)
        times.append(time.perf_counter() - start)
    session = (rr.stats().model_seconds - session_before) if rr is not None else None
    return {"latencies": times, "pairs": n_docs * calls, "session_seconds": session}


def _memory(rank: Any, calls: int, seed: int) -> dict[str, Any]:
    """RSS while calls of 1-8 documents of 3-400 words each (every call a new shape) run."""
    rng = random.Random(seed)
    pool = make_workload(1, 400, seed=seed).documents[0]
    samples = []
    for i in range(calls):
        docs = [" ".join(rng.choice(pool).split()[: rng.randint(3, 400)]) for _ in range(rng.randint(1, 8))]
        rank("what does the license permit", docs)
        if i % 50 == 0 or i == calls - 1:
            samples.append((i, _rss_bytes()))
    return {"samples": samples}


def _host(rank: Any, calls: int, seed: int) -> dict[str, Any]:
    """Pairs/s for 100 documents of ~60 tokens per call, with the CPU batching defaults and
    with the GPU ones (16,384-token batches, filled greedily), each cold (every document new)
    and warm (documents drawn from a pool of 2,000, as candidates come back query after query)."""
    from fastrerank import Reranker

    rng = random.Random(seed)
    text = " ".join(make_workload(1, 200, seed=seed).documents[0]).split()

    def doc() -> str:
        s = rng.randrange(0, len(text) - 46)
        return " ".join(text[s : s + 46])

    query = "what does the license permit"
    # the defaults, token cache included (the timed systems run without it)
    cpu = Reranker(rank.reranker.model_path, threads=rank.reranker.threads)
    gpu = Reranker(cpu.model_path, threads=cpu.threads, max_batch_tokens=16384, batch_overhead=-1)
    pool = [doc() for _ in range(2000)]
    warm = [rng.sample(pool, 100) for _ in range(calls)]
    out: dict[str, Any] = {"tokens_per_doc": float(sum(len(x) for x in cpu.tokenizer.encode_ids(pool[:200])) / 200)}
    for name, rr in (("cpu_batching", cpu), ("gpu_batching", gpu)):
        rr.clear_token_cache()
        cold = [[f"{name} {i}-{j} {doc()}" for j in range(100)] for i in range(calls)]
        start = time.perf_counter()
        for docs in cold:
            rr.rerank(query, docs)
        result = {"cold_pairs_per_s": 100 * calls / (time.perf_counter() - start)}
        for docs in warm[: calls // 5]:
            rr.rerank(query, docs)  # fill the cache
        start = time.perf_counter()
        for docs in warm:
            rr.rerank(query, docs)
        result["warm_pairs_per_s"] = 100 * calls / (time.perf_counter() - start)
        out[name] = result
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--system", required=True)
    p.add_argument("--model", required=True, type=Path)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--workdir", required=True, type=Path)
    p.add_argument("--workload", required=True, type=Path)
    args = p.parse_args()

    from fastrerank.bench import systems

    workloads = load_workloads(args.workload)
    start = time.perf_counter()
    try:
        if args.system in systems.CEILINGS:
            ceiling = systems.CEILINGS[args.system](args.model, args.threads, args.workdir)
            groups = {name: [ceiling.rows(q, d) for q, d in zip(w.queries, w.documents)] for name, w in workloads.items()}
            rank = None
        else:
            rank = systems.SYSTEMS[args.system](args.model, args.threads, args.workdir)
    except Exception as e:  # a peer that is not installed, or fails to load: report, do not crash
        _reply({"error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"})
        return
    _reply({"ready": True, "load_seconds": time.perf_counter() - start, "rss": _rss_bytes()})

    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "quit":
            break
        if cmd["cmd"] == "run" and rank is None:
            others = _others_busy()
            budgets = {b: ceiling.run(groups[cmd["workload"]][cmd["query"]], b) for b in systems.Ceiling.BUDGETS}
            _reply({"budgets": budgets, "others": _others_busy() - others})
        elif cmd["cmd"] == "run":
            w = workloads[cmd["workload"]]
            _reply(_run(rank, w.queries[cmd["query"]], w.documents[cmd["query"]], cmd.get("scores", False)))
        elif cmd["cmd"] == "latency":
            _reply(_latency(rank, cmd["docs"], cmd["calls"], cmd.get("seed", 1), cmd.get("words")))
        elif cmd["cmd"] == "host":
            _reply(_host(rank, cmd["calls"], cmd.get("seed", 3)))
        elif cmd["cmd"] == "memory":
            _reply(_memory(rank, cmd["calls"], cmd.get("seed", 2)))
        else:
            _reply({"error": f"unknown command {cmd['cmd']!r}"})


if __name__ == "__main__":
    main()
