"""The peer comparison: fastrerank against sentence-transformers, fastembed, FlashRank and a
plain ONNX Runtime loop on the same model, workload, thread count and machine, in one run.

Each system runs in its own process; runs are alternated (round r starts at system r), and the
reported time is the median over rounds. The same run measures the zero-padding ceiling, the
host pipeline (a graph that costs nothing), latency percentiles, throughput against documents
per query and threads, and resident memory over many calls. Output: a Markdown table, the raw
JSON, and a PNG plot.

    fastrerank bench --compare --model DIR        (or: python benchmarks/compare.py --model DIR)
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from fastrerank.bench import systems
from fastrerank.bench.corpus import WORKLOADS, Workload, save_workloads
from fastrerank.bench.options import Options, add_arguments, options_from
from fastrerank.cpu import physical_cores
from fastrerank.progress import Progress

__all__ = ["Options", "run"]

PEER_SYSTEMS = ("fastembed", "flashrank")  # run with --peer-python (their own venv)


class Worker:
    """A system loaded in its own process."""

    def __init__(self, name: str, python: str, options: Options, workload: Path, threads: int | None = None) -> None:
        self.name = name
        cmd = [
            python,
            "-m",
            "fastrerank.bench.worker",
            "--system",
            name,
            "--model",
            str(options.model),
            "--threads",
            str(threads or options.threads),
            "--workdir",
            str(options.workdir),
            "--workload",
            str(workload),
        ]
        logs = options.workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.log = logs / f"{name.replace(' ', '_').replace('(', '').replace(')', '')}-{threads or options.threads}.log"
        with self.log.open("w") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True)
        self.hello = self._read()
        self.error = self.hello.get("error")

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            tail = self.log.read_text(errors="replace").strip().splitlines()[-1:] if self.log.is_file() else []
            return {"error": f"worker exited with status {self.proc.wait()}: {' '.join(tail)[:300]}"}
        result: dict[str, Any] = json.loads(line)
        return result

    def ask(self, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            return self._read()  # the worker died: its last words
        return self._read()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.ask(cmd="quit")
            except (BrokenPipeError, json.JSONDecodeError):
                pass
            self.proc.wait(timeout=30)


def prepare_models(model: Path, workdir: Path) -> None:
    """workdir/fused (fused fp32 + int8 from it) and workdir/null (the null graph), rebuilt
    when the source model changes."""
    import onnxruntime

    from fastrerank import export
    from fastrerank.bench.null_model import build as build_null
    from fastrerank.cpu import has_vnni
    from fastrerank.export import optimize_graph, quantize_int8

    # the source file, and what the derived files depend on: ONNX Runtime, the int8 scheme
    source = (model / "model.onnx").stat()
    stamp = f"{source.st_size}-{source.st_mtime_ns}-ort{onnxruntime.__version__}-int8down{export.INT8_DOWN_LAYERS}"
    if (workdir / "stamp").is_file() and (workdir / "stamp").read_text() == stamp:
        return
    shutil.rmtree(workdir, ignore_errors=True)
    fused = workdir / "fused"
    fused.mkdir(parents=True)
    for name in ("tokenizer.json", "config.json", "model.onnx"):
        shutil.copyfile(model / name, fused / name)
    config = json.loads((model / "config.json").read_text())
    optimize_graph(fused / "model.onnx", config)
    quantize_int8(fused / "model.onnx", fused / "model_int8.onnx", reduce_range=not has_vnni())
    build_null(model, workdir / "null")
    (workdir / "stamp").write_text(stamp)


def _row_lengths(model: Path, workload: Workload) -> tuple[np.ndarray, int, int]:
    """Real length of every row the workload makes, and fastrerank's padded/real token totals."""
    from fastrerank import Reranker

    rr = Reranker(model)
    lengths, padded, real = [], 0, 0
    for query, docs in zip(workload.queries, workload.documents):
        packed = systems.one_window_rows(rr, query, docs, rr.max_batch_tokens, rr.batch_overhead)
        for b in range(len(packed)):
            lengths.extend(packed.batch(b)[1].sum(axis=1).tolist())
        padded += packed.padded_tokens
        real += packed.real_tokens
    return np.array(lengths), padded, real


def _top10_overlap(a: list[list[float]], b: list[list[float]]) -> float:
    from fastrerank.export import top_k_overlap

    return float(np.mean([top_k_overlap(np.array(x), np.array(y)) for x, y in zip(a, b)]))


def _load(options: Options, workload_file: Path, failed: dict[str, str]) -> dict[str, Worker]:
    """Every system in its own process, warmed up on each workload's first query; the ones
    that fail to load go into ``failed`` with their error."""
    workers = {}
    for name in options.systems:
        python = options.peer_python if (name in PEER_SYSTEMS and options.peer_python) else sys.executable
        w = Worker(name, python, options, workload_file)
        error = w.error
        for workload in options.workloads if not error else ():
            warm = w.ask(cmd="run", workload=workload, query=0)  # first-run allocations, caches
            error = warm.get("error")
            if error:
                break
        if error:
            failed[name] = error
            w.close()
        else:
            workers[name] = w
    return workers


def run(options: Options) -> dict[str, Any]:
    """Runs every phase; writes OUT.md, OUT.json and OUT.png; returns the results.

    Each round runs every query of every workload on every system, the systems' order rotating
    from one query to the next; a system's time on a workload is the sum over queries of its
    median over rounds. ``results["systems"]``, ``["ceiling"]`` and ``["rows"]`` are the first
    workload's (also under ``results["workloads"]``)."""
    options.workdir.mkdir(parents=True, exist_ok=True)
    prepare_models(options.model, options.workdir)
    workloads = {name: WORKLOADS[name][0](options.queries, options.docs) for name in options.workloads}
    workload_file = options.workdir / "workloads.json"
    save_workloads(workloads, workload_file)
    results: dict[str, Any] = {
        "machine": {"cpu": _cpu_name(), "cores": physical_cores(), "python": platform.python_version(), "threads": options.threads},
        "workloads": {
            name: {
                "queries": options.queries,
                "docs_per_query": options.docs,
                "pairs": w.pairs,
                "what": WORKLOADS[name][1],
                "systems": {},
            }
            for name, w in workloads.items()
        },
    }
    phases = 1 + options.rounds + (4 if options.sweep else 0) + (1 if options.memory_calls else 0)
    with Progress(phases, "bench") as progress:
        progress.step("loading systems")
        failed: dict[str, str] = {}
        workers = _load(options, workload_file, failed)
        order = list(workers)
        # times[workload][system][query] = [per round: seconds, or {budget: seconds} for a ceiling]
        times: dict[str, dict[str, list[list[Any]]]] = {wl: {n: [[] for _ in workloads[wl].queries] for n in order} for wl in workloads}
        others: dict[str, float] = dict.fromkeys(workloads, 0.0)  # CPU seconds of other processes
        timed: dict[str, float] = dict.fromkeys(workloads, 0.0)  # wall seconds of the timed runs
        scores: dict[str, dict[str, list[Any]]] = {wl: {} for wl in workloads}
        turn = 0
        for r in range(options.rounds):
            progress.step(f"round {r + 1}/{options.rounds}")
            for wl, workload in workloads.items():
                for q in range(len(workload.queries)):
                    for name in order[turn % len(order) :] + order[: turn % len(order)]:
                        if name in failed:
                            continue
                        reply = workers[name].ask(cmd="run", workload=wl, query=q, scores=(r == options.rounds - 1))
                        if "error" in reply:
                            failed[name] = reply["error"]
                            continue
                        budgets = reply.get("budgets")  # a ceiling: seconds by batch budget
                        times[wl][name][q].append({int(b): t for b, t in budgets.items()} if budgets else reply["seconds"])
                        others[wl] += reply.get("others", 0.0)
                        timed[wl] += sum(budgets.values()) if budgets else reply["seconds"]
                        if "scores" in reply:
                            scores[wl].setdefault(name, []).append(reply["scores"])
                    turn += 1
        host = (
            workers["host pipeline (null graph)"].ask(cmd="host", calls=options.host_calls)
            if "host pipeline (null graph)" in workers
            else None
        )
        for w in workers.values():
            w.close()

        sweep = _sweep(options, workload_file, progress) if options.sweep else None
        memory = None
        if options.memory_calls:
            progress.step(f"memory over {options.memory_calls} calls")
            w = Worker("fastrerank fp32", sys.executable, options, workload_file)
            memory = w.ask(cmd="memory", calls=options.memory_calls)
            w.close()

    shape = systems.encoder_shape(options.model)
    for wl, workload in workloads.items():
        out = results["workloads"][wl]
        lengths, padded, real = _row_lengths(options.model, workload)
        out["rows"] = {
            "count": int(len(lengths)),
            "mean_length": float(lengths.mean()),
            "median_length": float(np.median(lengths)),
            "real_tokens": real,
            "padded_tokens": padded,
            "padding_waste": 1 - real / padded,
        }
        flops = float(sum(systems.FLOPS(int(n), **shape) for n in lengths))
        _summarise(out, {n: t for n, t in times[wl].items() if n not in failed}, scores[wl], workload.pairs, flops)
        out["systems"].update({name: {"error": error} for name, error in failed.items()})
        out["timed_seconds"], out["others_cpu_seconds"] = timed[wl], others[wl]
    first = results["workloads"][options.workloads[0]]
    results["systems"], results["rows"] = first["systems"], first["rows"]
    if "ceiling" in first.get("ceilings", {}):
        results["ceiling"] = first["ceilings"]["ceiling"]
    results["host"] = host
    results["sweep"] = sweep
    results["memory"] = memory
    _write(results, options.out)
    return results


def _summarise(out: dict[str, Any], times: dict[str, list[list[Any]]], scores: dict[str, list[Any]], pairs: int, flops: float) -> None:
    """One workload's systems, ceilings, score differences and int8 overlap into ``out``;
    ``times[system][query]`` holds that query's time in every round."""
    rounds = min((len(t) for per_query in times.values() for t in per_query), default=0)
    for name, per_query in times.items():
        if name in systems.CEILINGS:
            by_budget = {b: float(sum(np.median([t[b] for t in q]) for q in per_query)) for b in per_query[0][0]}
            best = min(by_budget, key=lambda b: by_budget[b])
            out.setdefault("ceilings", {})[name] = {
                "seconds_by_budget": by_budget,
                "best_budget": best,
                "seconds": by_budget[best],
                "pairs_per_s": pairs / by_budget[best],
                "useful_gflops": flops / by_budget[best] / 1e9,
                "round_seconds": [float(sum(q[r][best] for q in per_query)) for r in range(rounds)],
            }
            continue
        seconds = float(sum(np.median(q) for q in per_query))
        out["systems"][name] = {
            "seconds": seconds,
            "pairs_per_s": pairs / seconds,
            "round_seconds": [float(sum(q[r] for q in per_query)) for r in range(rounds)],
        }
        if name != "host pipeline (null graph)":
            out["systems"][name]["useful_gflops"] = flops / seconds / 1e9
    base = scores.get("fastrerank fp32")
    for name, s in scores.items():
        if base is not None and name != "host pipeline (null graph)" and name in out["systems"]:
            out["systems"][name]["max_abs_diff_vs_fastrerank_fp32"] = float(
                max(np.abs(np.array(a) - np.array(b)).max() for a, b in zip(s, base))
            )
    if base is not None and "fastrerank int8" in scores:
        out["int8_top10_overlap_vs_fp32"] = _top10_overlap(scores["fastrerank int8"], base)


def _sweep(options: Options, workload_file: Path, progress: Progress) -> dict[str, Any]:
    """fastrerank fp32: latency and throughput against documents per query and threads."""
    out: dict[str, Any] = {"docs": {}, "threads": {}, "overhead": None}
    w = Worker("fastrerank fp32", sys.executable, options, workload_file)
    progress.step("latency, 20 documents of ~100 tokens")
    w.ask(cmd="latency", docs=20, calls=2, words=75)
    r = w.ask(cmd="latency", docs=20, calls=10, words=75)
    out["overhead"] = {
        "docs": 20,
        "words": 75,
        "median_s": float(np.median(r["latencies"])),
        "outside_session_share": 1 - r["session_seconds"] / sum(r["latencies"]),
    }
    progress.step("latency and throughput by documents per query")
    for n_docs, calls in ((10, 30), (100, 5), (1000, 2)):
        r = w.ask(cmd="latency", docs=n_docs, calls=calls)
        lat = np.array(r["latencies"])
        out["docs"][n_docs] = {
            "calls": calls,
            "p50": float(np.percentile(lat, 50)),
            "p90": float(np.percentile(lat, 90)),
            "p99": float(np.percentile(lat, 99)),
            "pairs_per_s": r["pairs"] / float(lat.sum()),
        }
    w.close()
    progress.step("throughput by threads")
    for threads in (1, 2):
        w = Worker("fastrerank fp32", sys.executable, options, workload_file, threads=threads)
        w.ask(cmd="latency", docs=100, calls=1)
        r = w.ask(cmd="latency", docs=100, calls=3, seed=5)
        out["threads"][threads] = {"pairs_per_s": r["pairs"] / float(sum(r["latencies"]))}
        w.close()
    progress.step("done")
    return out


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _spread(numerator: dict[str, Any], denominator: dict[str, Any]) -> str:
    """The ratio of two systems' speeds round by round, as "rounds lo-hi"."""
    ratios = [b / a for a, b in zip(numerator.get("round_seconds", []), denominator.get("round_seconds", [])) if a > 0]
    return f"rounds {min(ratios):.2f}-{max(ratios):.2f}" if len(ratios) > 1 else ""


def _ratio(a: dict[str, Any], b: dict[str, Any], what: str) -> str:
    """ "1.23 x WHAT (rounds 1.10-1.30)": how much faster ``a`` is than ``b``."""
    spread = _spread(a, b)
    return f"{a['pairs_per_s'] / b['pairs_per_s']:.2f} x {what}" + (f" ({spread})" if spread else "")


def workload_markdown(name: str, w: dict[str, Any], threads: int) -> list[str]:
    """One workload's table and ratios."""
    sysres = w["systems"]
    fp32 = sysres.get("fastrerank fp32", {})
    base = fp32.get("pairs_per_s")
    rows = w.get("rows", {})
    lines = [
        f"### Workload `{name}`: {w['queries']} queries x {w['docs_per_query']} documents = {w['pairs']} pairs",
        "",
        f"{w['what']}; rows (query + document + special tokens, one window each) median "
        f"{rows.get('median_length', float('nan')):.0f}, mean {rows.get('mean_length', float('nan')):.0f} tokens.",
        "",
        "| system | pairs/s | x fastrerank fp32 | useful GFLOP/s | max abs score diff vs fastrerank fp32 |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for sysname, r in sysres.items():
        if "error" in r:
            lines.append(f"| {sysname} | not run: {r['error']} | | | |")
            continue
        ratio = f"{r['pairs_per_s'] / base:.2f}" if base else ""
        gflops = f"{r['useful_gflops']:.1f}" if "useful_gflops" in r else ""
        diff = f"{r['max_abs_diff_vs_fastrerank_fp32']:.1e}" if "max_abs_diff_vs_fastrerank_fp32" in r else ""
        lines.append(f"| {sysname} | {r['pairs_per_s']:.1f} | {ratio} | {gflops} | {diff} |")
    ceilings = w.get("ceilings", {})
    for cname, c in ceilings.items():
        graph = "fused graph" if "fused" in cname else "the model's graph"
        lines.append(
            f"| {cname}: zero padding, plain ONNX Runtime on {graph}, best budget {c['best_budget']} | {c['pairs_per_s']:.1f} "
            f"| {c['pairs_per_s'] / base:.2f} | {c['useful_gflops']:.1f} | |"
            if base
            else f"| {cname} | {c['pairs_per_s']:.1f} | | | |"
        )
    lines.append("")
    for cname, c in ceilings.items():
        budgets = ", ".join(f"{b}: {w['pairs'] / t:.1f}" for b, t in c["seconds_by_budget"].items())
        lines.append(f"{cname.capitalize()} by batch token budget (pairs/s): {budgets}.")
    lines.append("")
    mine = [n for n in sysres if n.startswith("fastrerank") and "pairs_per_s" in sysres[n]]
    for cname, c in ceilings.items():
        for n in mine:
            lines.append(f"- {n}: {_ratio(sysres[n], c, 'the zero-padding ' + cname)}")
    peers = {p: sysres[p] for p in systems.PEERS if "pairs_per_s" in sysres.get(p, {})}
    if peers and base:
        best = max(peers, key=lambda p: peers[p]["pairs_per_s"])
        each = "; ".join(_ratio(fp32, r, p) for p, r in peers.items())
        lines.append(f"- fastrerank fp32 vs the best peer: {_ratio(fp32, peers[best], best)}; vs each peer: {each}")
    int8 = sysres.get("fastrerank int8", {})
    if base and "pairs_per_s" in int8:
        lines.append(
            f"- fastrerank int8: {_ratio(int8, fp32, 'fastrerank fp32')}, top-10 overlap with fp32 "
            f"{w.get('int8_top10_overlap_vs_fp32', float('nan')):.3f}"
        )
    if rows:
        lines.append(
            f"- padding: fastrerank computes {rows['padded_tokens']} tokens for {rows['real_tokens']} real ones "
            f"({100 * rows['padding_waste']:.1f}% waste)"
        )
    if w.get("timed_seconds"):
        lines.append(
            f"- other processes used {w['others_cpu_seconds']:.1f} CPU-seconds during the {w['timed_seconds']:.0f} s of timed runs "
            f"({100 * w['others_cpu_seconds'] / (w['timed_seconds'] * threads):.1f}% of {threads} cores)"
        )
    return lines + [""]


def markdown(results: dict[str, Any]) -> str:
    """The results as a Markdown report."""
    m = results["machine"]
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}; {m['threads']} threads for every system.",
        "Every system scores the same pairs (each document cut to one model window). Each round runs every query "
        "of every workload on every system, their order rotating from query to query; a system's time is the sum "
        "over queries of its median over the rounds; the spread is the ratio's lowest and highest round.",
        "",
    ]
    for name, w in results["workloads"].items():
        lines += workload_markdown(name, w, m["threads"])
    if results.get("host"):
        h = results["host"]
        for name, label in (
            ("cpu_batching", "CPU batching (1,024-token budget, least-cost cut)"),
            ("gpu_batching", "GPU batching (16,384-token budget, greedy)"),
        ):
            lines.append(
                f"- host pipeline, {label}: null graph, ~{h['tokens_per_doc']:.0f}-token documents, 100 per call: "
                f"{h[name]['cold_pairs_per_s']:,.0f} pairs/s cold, {h[name]['warm_pairs_per_s']:,.0f} pairs/s with documents repeating"
            )
    s = results.get("sweep")
    if s:
        o = s["overhead"]
        lines.append(
            f"- latency, {o['docs']} documents of {o['words']} words: median {1000 * o['median_s']:.0f} ms, "
            f"{100 * o['outside_session_share']:.2f}% of it outside session.run"
        )
        lines += ["", "| documents per query | p50 | p90 | p99 | pairs/s |", "| ---: | ---: | ---: | ---: | ---: |"]
        for n, d in s["docs"].items():
            lines.append(f"| {n} | {d['p50']:.3f} s | {d['p90']:.3f} s | {d['p99']:.3f} s | {d['pairs_per_s']:.1f} |")
        lines.append("")
        lines.append(
            "Threads (100 documents per query): " + ", ".join(f"{t}: {d['pairs_per_s']:.1f} pairs/s" for t, d in s["threads"].items())
        )
    mem = results.get("memory")
    if mem:
        samples = mem["samples"]
        warm = [rss for i, rss in samples if i >= 200]
        if warm:
            lines.append(
                f"- resident memory over {samples[-1][0] + 1} calls of varied shapes: {warm[0] / 2**20:.0f} MiB after warm-up, "
                f"{max(warm) / 2**20:.0f} MiB peak, {warm[-1] / 2**20:.0f} MiB at the end ({100 * (max(warm) / warm[0] - 1):+.1f}%)"
            )
    return "\n".join(lines) + "\n"


def _write(results: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str))
    out.with_suffix(".md").write_text(markdown(results))
    try:
        _plot(results, out.with_suffix(".png"))
    except ImportError:
        pass  # matplotlib (extra `bench`) not installed: table and JSON only


def plot_panels(results: dict[str, Any]) -> list[Any]:
    """The plot's panels that have data: the systems always, the sweeps when they ran."""
    return [_plot_systems] + ([_plot_docs, _plot_threads, _plot_latency] if results.get("sweep") else [])


def _plot(results: dict[str, Any], path: Path) -> None:
    """The systems' throughput, and, when the run measured them, the sweeps: only panels with data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = plot_panels(results)
    cols = min(2, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols + (2 if cols == 1 else 0), 4.5 * rows), squeeze=False)
    for draw, ax in zip(panels, axes.flat):
        draw(ax, results)
    fig.suptitle(f"fastrerank bench — {results['machine']['cpu']}, {results['machine']['threads']} threads")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_systems(ax: Any, results: dict[str, Any]) -> None:
    sysres = {k: v for k, v in results["systems"].items() if "pairs_per_s" in v and "null" not in k}
    names = list(sysres) + (["ceiling"] if "ceiling" in results else [])
    values = [sysres[n]["pairs_per_s"] for n in sysres] + ([results["ceiling"]["pairs_per_s"]] if "ceiling" in results else [])
    colors = ["tab:blue" if n.startswith("fastrerank") else "tab:green" if n == "ceiling" else "tab:gray" for n in names]
    ax.barh(names, values, color=colors)
    ax.set_xlabel("pairs/s")
    name, workload = next(iter(results["workloads"].items()))  # the systems' figures are the first workload's
    ax.set_title(f"Same model and threads, workload {name} ({workload['pairs']} pairs)")
    ax.invert_yaxis()


def _plot_docs(ax: Any, results: dict[str, Any]) -> None:
    _plot_sweep(ax, results["sweep"]["docs"], "documents per query", "throughput vs documents per query", log=True)


def _plot_threads(ax: Any, results: dict[str, Any]) -> None:
    _plot_sweep(ax, results["sweep"]["threads"], "threads", "throughput vs threads (100 documents)", log=False)


def _plot_sweep(ax: Any, sweep: dict[Any, Any], xlabel: str, title: str, *, log: bool) -> None:
    xs = sorted(int(k) for k in sweep)
    ax.plot(xs, [sweep[x]["pairs_per_s"] for x in xs], marker="o")
    if log:
        ax.set_xscale("log")
    else:
        ax.set_xticks(xs)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("pairs/s")
    ax.set_title(f"fastrerank fp32: {title}")


def _plot_latency(ax: Any, results: dict[str, Any]) -> None:
    s = results["sweep"]
    docs = sorted(int(k) for k in s["docs"])
    x = np.arange(len(docs))
    for i, p in enumerate(("p50", "p90", "p99")):
        ax.bar(x + (i - 1) * 0.25, [s["docs"][d][p] for d in docs], width=0.25, label=p)
    ax.set_xticks(x, [str(d) for d in docs])
    ax.set_yscale("log")
    ax.set_xlabel("documents per query")
    ax.set_ylabel("seconds")
    ax.set_title("fastrerank fp32: latency percentiles")
    ax.legend()


def main(argv: list[str] | None = None) -> int:
    """``python benchmarks/compare.py``: the same options as ``fastrerank bench --compare``."""
    import argparse

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    args = p.parse_args(argv)
    start = time.perf_counter()
    results = run(options_from(args))
    print(markdown(results))
    print(f"({time.perf_counter() - start:.0f} s; written to {args.out}.md, .json, .png)")
    return 0
