"""int8 and fp16 against fp32 on held-out man pages: agreement, MRR@10 and (apart) speed.

    python benchmarks/agreement.py MODEL_DIR [--faq] [--schemes a,b] [--out FILE]       # agreement
    python benchmarks/agreement.py MODEL_DIR --time [--time-queries 8] [--rounds 3]     # speed only

MODEL_DIR is a fastrerank model directory (model.onnx, tokenizer.json, config.json): the man-page
model (``python models/finetune_manpages.py``) or the random-head test model. Every variant is
made here from the fused fp32 graph (what a plain fp32 load runs): each int8 scheme of SCHEMES
(dynamic quantisation, per channel; 7-bit weights on CPUs without VNNI, as the export does) and
fp16. Agreement: the held-out set of models/manpages.py (100 queries x 30 candidates, pages never
trained on) and with ``--faq`` the Debian FAQ; per variant MRR@10, top-10 overlap, Spearman and
the largest score difference against fp32, TF-IDF's MRR@10 beside. ``--time`` instead times fp32
and each int8 scheme on the first queries, paired query by query (see ``timing``), one process:
run it alone (``flock -x /work/cpu.lock``, a few minutes), the agreement part under ``flock -s``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "models"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import manpages  # noqa: E402

import smoothquant  # noqa: E402
from fastrerank import Reranker, fusion  # noqa: E402
from fastrerank.cpu import has_vnni  # noqa: E402
from fastrerank.export import convert_fp16, ffn_output_matmuls, head_matmuls, quantize_int8, spearman, top_k_overlap  # noqa: E402


def layer_nodes(model: Path) -> dict[str, list[str]]:
    """The quantisable nodes of a fused BERT graph by kind, in layer order: ``qkv`` (Attention),
    ``out``, ``up``, ``down`` (MatMul) and ``head`` (MatMul/Gemm after the last layer norm)."""
    import onnx

    graph = onnx.load(str(model), load_external_data=False).graph
    down = set(ffn_output_matmuls(graph))
    head = head_matmuls(graph)
    kinds: dict[str, list[str]] = {"qkv": [], "out": [], "up": [], "down": [], "head": head}
    for n in graph.node:
        if n.name in head:
            continue
        if n.op_type == "Attention":
            kinds["qkv"].append(n.name)
        elif n.op_type == "MatMul":
            kinds["down" if n.name in down else "out" if "attention" in n.name.lower() else "up"].append(n.name)
    return kinds


# int8 scheme -> the nodes it keeps in fp32 (the embeddings always stay fp32; so does the head)
SCHEMES: dict[str, Callable[[dict[str, list[str]]], list[str]]] = {
    "all": lambda k: k["head"],
    "keep-down": lambda k: k["head"] + k["down"],
    "keep-down+last-up": lambda k: k["head"] + k["down"] + k["up"][-2:],
    "keep-last-2-layers": lambda k: k["head"] + [n for kind in ("qkv", "out", "up", "down") for n in k[kind][-2:]],
    "keep-down-but-last": lambda k: k["head"] + k["down"][:-1],
    "keep-down-but-last-2": lambda k: k["head"] + k["down"][:-2],  # the export's (INT8_DOWN_LAYERS = 2)
    # SmoothQuant (benchmarks/smoothquant.py, calibrated on the probe set) on the down-projections'
    # inputs, then everything quantised: the same keep list as "all", from the smoothed graph
    "smooth-down": lambda k: k["head"],
}
SMOOTHED = {"smooth-down": ("down",)}  # scheme -> the kinds of nodes whose inputs are smoothed first


def probe_batches(model: Path) -> list[dict[str, np.ndarray]]:
    """The model's feeds for the built-in probe set (each query against every probe document)."""
    from fastrerank import probes
    from fastrerank.bench.systems import one_window_rows

    rr = Reranker(model, token_cache_bytes=0)
    out = []
    for query in probes.QUERIES:
        plan = one_window_rows(rr, query, list(probes.DOCUMENTS), 4096)
        for b in range(len(plan)):
            ids, mask, types, _ = plan.batch(b)
            out.append({"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
    return out


def variants(model: Path, work: Path, schemes: list[str], fp16: bool) -> dict[str, tuple[Path, str]]:
    """name -> (model directory, precision): fp32 (fused), one int8 per scheme, fp16."""
    config = json.loads((model / "config.json").read_text())
    fused = fusion.fused_copy(model / "model.onnx", config) or model / "model.onnx"
    kinds = layer_nodes(fused)
    out = {"fp32": (model, "fp32")}
    for scheme in schemes:
        d = work / scheme
        d.mkdir(parents=True, exist_ok=True)
        for name in ("tokenizer.json", "config.json", "model.onnx"):
            shutil.copyfile(model / name, d / name)
        if not (d / "model_int8.onnx").is_file():
            src = fused
            if scheme in SMOOTHED:
                src = d / "smoothed.onnx"
                smoothquant.smooth(fused, src, [n for kind in SMOOTHED[scheme] for n in kinds[kind]], probe_batches(model))
            quantize_int8(src, d / "model_int8.onnx", reduce_range=not has_vnni(), keep=SCHEMES[scheme](kinds))
        out[f"int8 {scheme}"] = (d, "int8")
    if fp16:
        d = work / "fp16"
        d.mkdir(parents=True, exist_ok=True)
        for name in ("tokenizer.json", "config.json", "model.onnx"):
            shutil.copyfile(model / name, d / name)
        if not (d / "model_fp16.onnx").is_file():
            convert_fp16(fused, d / "model_fp16.onnx")
        out["fp16"] = (d, "fp16")
    return out


def scores(rr: Reranker, queries: list[manpages.Query]) -> list[np.ndarray]:
    """Each query's candidate scores, by candidate index."""
    out = []
    for q in queries:
        s = np.empty(len(q.candidates))
        for r in rr.rerank(q.text, q.candidates, max_windows_per_doc=1).results:
            s[r.index] = r.relevance_score
        out.append(s)
    return out


def mrr10(all_scores: list[np.ndarray], queries: list[manpages.Query]) -> float:
    """Mean reciprocal rank of the relevant candidate, 0 past rank 10 (ties to the lower index)."""
    ranks = [int(np.lexsort((np.arange(len(s)), -s)).tolist().index(q.relevant)) + 1 for s, q in zip(all_scores, queries)]
    return float(np.mean([1 / r if r <= 10 else 0.0 for r in ranks]))


def agreement(model: Path, work: Path, sets: dict[str, list[manpages.Query]], schemes: list[str], threads: int) -> dict:
    """Per set and variant: MRR@10 and agreement with fp32."""
    out: dict = {}
    found = variants(model, work, schemes, fp16=True)
    for set_name, queries in sets.items():
        tfidf = [np.array(manpages.Tfidf(q.candidates).scores(q.text)) for q in queries]
        rows: dict = {"tf-idf": {"mrr10": mrr10(tfidf, queries)}}
        base = None
        for name, (d, precision) in found.items():
            try:
                got = scores(Reranker(d, precision=precision, threads=threads, token_cache_bytes=0), queries)
            except Exception as e:  # fp16 kernels missing on this CPU's execution provider, ...
                rows[name] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"}
                continue
            base = got if name == "fp32" else base
            rows[name] = {"mrr10": mrr10(got, queries), "spread": float(np.mean([s.std() for s in got]))}
            if name != "fp32" and base is not None:
                rows[name] |= {
                    "top10_overlap": float(np.mean([top_k_overlap(a, b) for a, b in zip(got, base)])),
                    "spearman": float(np.mean([spearman(a, b) for a, b in zip(got, base)])),
                    "max_abs_diff": float(max(np.abs(a - b).max() for a, b in zip(got, base))),
                }
            print(set_name, name, rows[name], file=sys.stderr, flush=True)
        out[set_name] = {"queries": len(queries), "candidates": len(queries[0].candidates), "rows": rows}
    return out


def timing(model: Path, work: Path, queries: list[manpages.Query], schemes: list[str], threads: int, rounds: int) -> dict:
    """Speed against fp32 (the fused graph), paired: each round runs every query on every
    variant, the variants' order rotating, and a variant's ratio for that query and round is
    fp32's seconds over its own; the median and quartiles over all of them are reported (this
    VM drifts by 20-30% from minute to minute, a ratio taken seconds apart does not)."""
    found = variants(model, work, schemes, fp16=False)
    rankers = {n: Reranker(d, precision=p, threads=threads, token_cache_bytes=0) for n, (d, p) in found.items()}
    for rr in rankers.values():
        scores(rr, queries[:2])  # warm-up
    names = list(rankers)
    ratios: dict[str, list[float]] = {n: [] for n in names}
    seconds: dict[str, float] = dict.fromkeys(names, 0.0)
    for r in range(rounds):
        for i, q in enumerate(queries):
            turn = (r * len(queries) + i) % len(names)
            took = {}
            for n in names[turn:] + names[:turn]:
                time.sleep(0.05)  # the previous session's threads stop spinning before the clock starts
                start = time.perf_counter()
                scores(rankers[n], [q])
                took[n] = time.perf_counter() - start
            for n in names:
                ratios[n].append(took["fp32"] / took[n])
                seconds[n] += took[n]
    pairs = rounds * sum(len(q.candidates) for q in queries)
    return {
        n: {
            "pairs_per_s": pairs / seconds[n],
            "x_fp32": float(np.median(ratios[n])),
            "x_fp32_quartiles": [float(np.percentile(ratios[n], 25)), float(np.percentile(ratios[n], 75))],
        }
        for n in names
    }


def markdown(model: Path, results: dict) -> str:
    lines = [f"Model `{model}`."]
    for set_name, s in results.get("agreement", {}).items():
        lines += [
            "",
            f"{set_name}: {s['queries']} queries x {s['candidates']} candidates.",
            "",
            "| variant | MRR@10 | top-10 overlap vs fp32 | Spearman vs fp32 | max abs score diff | mean score std per query |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name, r in s["rows"].items():
            if "error" in r:
                lines.append(f"| {name} | not run: {r['error']} | | | | |")
                continue
            cells = [f"{r[k]:.3f}" if k in r else "" for k in ("mrr10", "top10_overlap", "spearman")]
            cells += [f"{r['max_abs_diff']:.3f}" if "max_abs_diff" in r else "", f"{r['spread']:.3f}" if "spread" in r else ""]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    t = results.get("timing")
    if t:
        lines += ["", "| variant | pairs/s | x fp32 (median of paired ratios) | quartiles |", "| --- | ---: | ---: | --- |"]
        for name, r in t.items():
            lo, hi = r["x_fp32_quartiles"]
            lines.append(f"| {name} | {r['pairs_per_s']:.1f} | {r['x_fp32']:.2f} | {lo:.2f}-{hi:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", type=Path)
    p.add_argument("--schemes", default="keep-down-but-last-2,keep-down,all", help=f"int8 schemes, of {list(SCHEMES)}")
    p.add_argument("--faq", action="store_true", help="also the Debian FAQ (apt-get download debian-faq, cached in .cache)")
    p.add_argument("--time", action="store_true", help="time fp32 and the int8 schemes instead (run under flock -x)")
    p.add_argument("--queries", type=int, default=None, help="the first N held-out queries only (default: all)")
    p.add_argument("--time-queries", type=int, default=8)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--work", type=Path, default=ROOT / ".cache" / "agreement")
    p.add_argument("--out", type=Path, default=None, help="write FILE.json and FILE.md")
    args = p.parse_args()
    schemes = [s.strip() for s in args.schemes.split(",") if s.strip()]
    unknown = [s for s in schemes if s not in SCHEMES]
    if unknown:
        raise SystemExit(f"unknown schemes {unknown}; choose from {list(SCHEMES)}")
    work = args.work / args.model.resolve().name
    heldout = manpages.heldout_set(manpages.pages())[: args.queries]
    results: dict = {"model": str(args.model), "int8_reduce_range": not has_vnni()}
    if args.time:
        results["timing"] = timing(args.model, work, heldout[: args.time_queries], schemes, args.threads, args.rounds)
    else:
        sets = {"held-out man pages": heldout}
        if args.faq:
            sets["Debian FAQ"] = manpages.faq_set(manpages.fetch_faq(ROOT / ".cache" / "debian-faq"))
        results["agreement"] = agreement(args.model, work, sets, schemes, args.threads)
    report = markdown(args.model, results)
    sys.stdout.write(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".json").write_text(json.dumps(results, indent=2))
        args.out.with_suffix(".md").write_text(report)


if __name__ == "__main__":
    main()
