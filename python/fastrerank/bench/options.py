"""What the benchmark measures, and where: its options, shared by ``fastrerank bench`` and
``python benchmarks/compare.py``."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, fields
from pathlib import Path

from fastrerank.bench.corpus import WORKLOADS

__all__ = ["Options", "add_arguments", "default_systems", "options_from"]


def default_systems() -> list[str]:
    """The systems a run measures when none are named: all but the one-off rows."""
    from fastrerank.bench import systems

    return [s for s in [*systems.SYSTEMS, *systems.CEILINGS] if s not in systems.EXPLICIT_ONLY]


@dataclass
class Options:
    """What to measure, and where."""

    model: Path
    threads: int = 2
    queries: int = 3
    docs: int = 100
    rounds: int = 3
    workdir: Path = Path(".cache/bench")
    out: Path = Path("bench-results")
    peer_python: str | None = None
    systems: list[str] = field(default_factory=default_systems)
    workloads: list[str] = field(default_factory=lambda: list(WORKLOADS))
    sweep: bool = True
    memory_calls: int = 2000
    host_calls: int = 200


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options shared by ``fastrerank bench`` and benchmarks/compare.py."""
    p.add_argument(
        "--model",
        "-m",
        required=True,
        type=Path,
        help="model directory (model.onnx, tokenizer.json, config.json); e.g. the MiniLM-L6 test model: python models/minilm_test_model.py",
    )
    p.add_argument("--threads", type=int, default=2, help="threads for every system (default: 2)")
    p.add_argument("--queries", type=int, default=3, help="queries in each workload (default: 3)")
    p.add_argument("--docs", type=int, default=100, help="documents per query (default: 100)")
    p.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help=f"comma-separated workloads, the first one also drives the plot (default: {','.join(WORKLOADS)}; see fastrerank.bench.corpus)",
    )
    p.add_argument("--rounds", type=int, default=3, help="alternated rounds; the median is reported (default: 3)")
    p.add_argument("--systems", default=None, help="comma-separated subset of systems (default: all)")
    p.add_argument(
        "--peer-python", default=None, help="python of a virtualenv with fastembed and flashrank (their pins conflict with transformers)"
    )
    p.add_argument("--no-sweep", action="store_true", help="skip latency / documents-per-query / threads sweeps")
    p.add_argument("--memory-calls", type=int, default=2000, help="calls for the resident-memory check (0: skip)")
    p.add_argument("--workdir", type=Path, default=Path(".cache/bench"), help="where derived models (fused, int8, null graph) are kept")
    p.add_argument("--out", type=Path, default=Path("bench-results"), help="report path without suffix: writes .md, .json, .png")


def options_from(args: argparse.Namespace) -> Options:
    """compare.Options from parsed arguments."""
    from fastrerank.bench import systems

    known = [*systems.SYSTEMS, *systems.CEILINGS]
    chosen = [s.strip() for s in args.systems.split(",")] if args.systems else default_systems()
    unknown = [s for s in chosen if s not in known]
    if unknown:
        raise ValueError(f"unknown systems {unknown}; choose from {known}")
    workloads = [w.strip() for w in args.workloads.split(",")]
    if not workloads or any(w not in WORKLOADS for w in workloads):
        raise ValueError(f"--workloads must name some of {list(WORKLOADS)}, got {args.workloads!r}")
    if not (args.model / "model.onnx").is_file():
        raise FileNotFoundError(
            f"{args.model} has no model.onnx; build the test model with `python models/minilm_test_model.py` or pass a model directory"
        )
    values = {f.name: getattr(args, f.name) for f in fields(Options) if f.name not in ("systems", "workloads") and hasattr(args, f.name)}
    return Options(**values, systems=chosen, workloads=workloads, sweep=not args.no_sweep)
