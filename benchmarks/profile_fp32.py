"""Where fp32 time goes against the zero-padding ceiling: one ONNX Runtime session, replaying
batch plans of the benchmark's own rows.

    python benchmarks/profile_fp32.py --model .cache/models/minilm-l6-test [--rounds 9] [--out FILE]

Run it alone (``flock -x /work/cpu.lock``): every number is a ratio taken in one process on one
session, so thread pools, arenas and the graph are the same for every variant, and each round runs
every variant once, the order rotating, the ratio to the default taken within the round (this VM
drifts 20-30% from minute to minute; a ratio within a round does not).

It measures
- the cost of one model call, fitted from timed batches of real rows: seconds = call + token x
  (rows x length) + pair x (rows x length^2); ``call / token`` is what one more call costs in
  padded tokens, the quantity ``batch_overhead`` stands for;
- per workload (those of ``fastrerank bench``), each batch plan: the default cut, other
  ``batch_overhead`` and ``max_batch_tokens`` values, and the ceiling's exact-length groups;
  calls, padding, and seconds as a ratio to the default;
- the host's share: ``Reranker.rerank`` end to end against the time inside the model.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from fastrerank import Reranker
from fastrerank.bench.corpus import WORKLOADS
from fastrerank.bench.systems import exact_length_groups, one_window_rows
from fastrerank.defaults import DEFAULT_BATCH_OVERHEAD, DEFAULT_BATCH_TOKENS

Batch = tuple[np.ndarray, np.ndarray, np.ndarray]
OVERHEADS = (0, 4, 8, 16, 32, 64, 128)
BUDGETS = (512, 1024, 2048)


def workload(name: str, queries: int, docs: int) -> list[tuple[str, list[str]]]:
    """The benchmark's workload ``name``: (query, documents) per query."""
    maker, _ = WORKLOADS[name]
    w = maker(queries, docs)
    return list(zip(w.queries, w.documents))


def plan(rr: Reranker, query: str, docs: list[str], budget: int, overhead: int) -> list[Batch]:
    """fastrerank's own batches of one query (the core's packing and least-cost cut)."""
    packed = one_window_rows(rr, query, docs, budget, overhead)
    return [packed.batch(i)[:3] for i in range(len(packed))]


def exact_groups(rr: Reranker, query: str, docs: list[str], budget: int) -> list[Batch]:
    """The ceiling's batches: rows of one exact length together, at most ``budget`` tokens."""
    out = []
    for ids, mask, types in exact_length_groups(rr, query, docs):
        per = max(1, budget // ids.shape[1])
        out += [(ids[k : k + per], mask[k : k + per], types[k : k + per]) for k in range(0, len(ids), per)]
    return out


def run(session, batches: list[Batch]) -> float:
    start = time.perf_counter()
    for ids, mask, types in batches:
        session.run(np.ascontiguousarray(ids), np.ascontiguousarray(mask), np.ascontiguousarray(types))
    return time.perf_counter() - start


def cost_model(session, rows: tuple[np.ndarray, np.ndarray, np.ndarray], rounds: int) -> dict:
    """Least-squares fit of a batch's seconds to call + token x rows x length + pair x rows x length^2."""
    ids, mask, types = rows
    rows, width = ids.shape
    shapes = [(r, n) for n in (8, 16, 32, 64, 128, 256) for r in (1, 2, 4, 8, 16, 32) if r * n <= 4096 and r <= rows and n <= width]
    times: dict[tuple[int, int], list[float]] = {s: [] for s in shapes}
    for k in range(rounds):
        for r, n in shapes[k % len(shapes) :] + shapes[: k % len(shapes)]:
            b = (ids[:r, :n].copy(), np.ones((r, n), np.int64), types[:r, :n].copy())
            times[(r, n)].append(min(run(session, [b]) for _ in range(3)))
    x = np.array([[1.0, r * n, r * n * n] for r, n in shapes])
    y = np.array([np.median(times[s]) for s in shapes])
    w = 1 / y  # relative error: small batches count as much as big ones
    coef, *_ = np.linalg.lstsq(x * w[:, None], y * w, rcond=None)
    call, token, pair = (float(c) for c in coef)
    fit = x @ coef
    return {
        "call_ms": call * 1e3,
        "token_us": token * 1e6,
        "pair_ns": pair * 1e9,
        "call_in_tokens": call / token,
        "max_rel_error": float(np.max(np.abs(fit - y) / y)),
        "shapes": {f"{r}x{n}": float(np.median(times[(r, n)])) * 1e3 for r, n in shapes},
    }


def compare_plans(
    rr: Reranker,
    session: Any,  # the Reranker's fastrerank.session.Session
    queries: list[tuple[str, list[str]]],
    rounds: int,
    overheads: tuple[int, ...] = OVERHEADS,
    budgets: tuple[int, ...] = BUDGETS,
) -> dict:
    """Each plan's calls, padding and seconds relative to the default plan, paired per round:
    the default budget with each of ``overheads``, each of ``budgets`` with overhead 16 and the
    default, and the ceiling's exact-length groups at the budgets from the default up."""
    default = (DEFAULT_BATCH_TOKENS["cpu"], DEFAULT_BATCH_OVERHEAD["cpu"])
    plans: dict[str, list[list[Batch]]] = {"default": [plan(rr, q, d, *default) for q, d in queries]}
    for budget in budgets:
        for overhead in overheads:
            if (budget, overhead) != default and (budget == default[0] or overhead in (16, default[1])):
                plans[f"budget {budget}, overhead {overhead}"] = [plan(rr, q, d, budget, overhead) for q, d in queries]
        if budget >= default[0]:
            plans[f"ceiling, budget {budget}"] = [exact_groups(rr, q, d, budget) for q, d in queries]
    names = list(plans)
    for name in names:  # warm-up: every shape once
        for batches in plans[name]:
            run(session, batches)
    ratios: dict[str, list[float]] = {n: [] for n in names}
    seconds: dict[str, list[float]] = {n: [] for n in names}
    for k in range(rounds):
        for qi in range(len(queries)):
            turn = (k * len(queries) + qi) % len(names)
            got = {n: run(session, plans[n][qi]) for n in names[turn:] + names[:turn]}
            for n in names:
                ratios[n].append(got["default"] / got[n])
                seconds[n].append(got[n])
    real = sum(int(b[1].sum()) for per_query in plans["default"] for b in per_query)  # mask ones: real tokens
    out = {}
    for n in names:
        batches = [b for per_query in plans[n] for b in per_query]
        padded = sum(b[0].size for b in batches)
        out[n] = {
            "calls": len(batches),
            "padding": padded / real - 1,
            "speed_vs_default": float(np.median(ratios[n])),
            "speed_iqr": [float(np.percentile(ratios[n], 25)), float(np.percentile(ratios[n], 75))],
            "seconds_sum_of_medians": float(sum(np.median(seconds[n][qi :: len(queries)]) for qi in range(len(queries)))),
        }
    return out


def host_share(rr: Reranker, queries: list[tuple[str, list[str]]], rounds: int) -> dict:
    """End-to-end rerank seconds against the seconds inside the model."""
    stats0 = rr.stats()
    start = time.perf_counter()
    for _ in range(rounds):
        for q, d in queries:
            rr.rerank(q, d, max_windows_per_doc=1)
    total = time.perf_counter() - start
    stats = rr.stats()
    model = stats.model_seconds - stats0.model_seconds
    return {"total_s": total, "model_s": model, "host_share": 1 - model / total, "calls": stats.model_calls - stats0.model_calls}


def markdown(results: dict) -> str:
    lines = [f"Session file `{results['session_file']}`, {results['threads']} threads."]
    if "cost_model" in results:
        c = results["cost_model"]
        lines.append(
            f"One call costs {c['call_ms']:.3f} ms = {c['call_in_tokens']:.1f} padded tokens "
            f"(a token {c['token_us']:.2f} us, a token pair {c['pair_ns']:.3f} ns; fit within {c['max_rel_error']:.0%} of every shape)."
        )
    for wl, r in results["workloads"].items():
        h = r["host"]
        lines += [
            "",
            f"Workload `{wl}`: host (tokenize, pack, scatter, sort) {h['host_share']:.1%} of rerank's time "
            f"({h['total_s']:.2f} s, {h['calls']} calls).",
            "",
            "| plan | calls | padding | speed vs default (median, IQR) |",
            "| --- | ---: | ---: | ---: |",
        ]
        for name, p in r["plans"].items():
            lo, hi = p["speed_iqr"]
            lines.append(f"| {name} | {p['calls']} | {p['padding']:.1%} | {p['speed_vs_default']:.3f} ({lo:.3f}-{hi:.3f}) |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--workloads", default="short:4:100,mixed:3:50", help="name:queries:docs,...")
    p.add_argument("--fuse", action="store_true", help="replay on the fused graph")
    p.add_argument("--overheads", default=",".join(map(str, OVERHEADS)), help="batch_overhead values to replay")
    p.add_argument("--budgets", default=",".join(map(str, BUDGETS)), help="max_batch_tokens values to replay")
    p.add_argument("--no-cost-model", action="store_true", help="skip the fit of a call's cost")
    p.add_argument("--out", type=Path, default=None, help="write FILE.json and FILE.md")
    args = p.parse_args()
    rr = Reranker(args.model, threads=args.threads, token_cache_bytes=0, fuse=args.fuse)
    session = rr._session  # the Reranker's own session: the same options as every rerank call
    results: dict = {"model": str(args.model), "session_file": str(rr.session_file), "threads": args.threads}
    specs = [(name, int(q), int(d)) for name, q, d in (s.split(":") for s in args.workloads.split(","))]
    loads = {name: workload(name, q, d) for name, q, d in specs}
    # the query whose rows, padded into one batch, are the biggest: the cost model's shapes are cut from it
    every = [one_window_rows(rr, q, d, 1 << 40).batch(0)[:3] for pairs in loads.values() for q, d in pairs]
    longest = max(every, key=lambda rows: rows[0].size)
    if not args.no_cost_model:
        results["cost_model"] = cost_model(session, longest, args.rounds)
        print(json.dumps(results["cost_model"]), file=sys.stderr, flush=True)
    overheads = tuple(int(x) for x in args.overheads.split(","))
    budgets = tuple(int(x) for x in args.budgets.split(","))
    results["workloads"] = {}
    for name, pairs in loads.items():
        results["workloads"][name] = {
            "plans": compare_plans(rr, session, pairs, args.rounds, overheads, budgets),
            "host": host_share(rr, pairs, 3),
        }
        print(name, json.dumps(results["workloads"][name]["host"]), file=sys.stderr, flush=True)
    report = markdown(results)
    sys.stdout.write(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".json").write_text(json.dumps(results, indent=2))
        args.out.with_suffix(".md").write_text(report)


if __name__ == "__main__":
    main()
