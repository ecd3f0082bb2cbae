"""``fastrerank bench``: fastrerank's throughput and latency on a model, or with ``--compare``
the full peer comparison (see compare.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "options_from", "register"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options shared by ``fastrerank bench`` and benchmarks/compare.py."""
    p.add_argument("--model", "-m", required=True, type=Path, help="model directory (model.onnx, tokenizer.json, config.json); e.g. the MiniLM-L6 test model: python models/minilm_test_model.py")
    p.add_argument("--threads", type=int, default=2, help="threads for every system (default: 2)")
    p.add_argument("--queries", type=int, default=3, help="queries in the workload (default: 3)")
    p.add_argument("--docs", type=int, default=100, help="documents per query (default: 100)")
    p.add_argument("--rounds", type=int, default=3, help="alternated rounds; the median is reported (default: 3)")
    p.add_argument("--systems", default=None, help="comma-separated subset of systems (default: all)")
    p.add_argument("--peer-python", default=None, help="python of a virtualenv with fastembed and flashrank (their pins conflict with transformers)")
    p.add_argument("--no-sweep", action="store_true", help="skip latency / documents-per-query / threads sweeps")
    p.add_argument("--memory-calls", type=int, default=2000, help="calls for the resident-memory check (0: skip)")
    p.add_argument("--workdir", type=Path, default=Path(".cache/bench"), help="where derived models (fused, int8, null graph) are kept")
    p.add_argument("--out", type=Path, default=Path("bench-results"), help="report path without suffix: writes .md, .json, .png")


def options_from(args: argparse.Namespace) -> Any:
    """compare.Options from parsed arguments."""
    from fastrerank.bench import compare, systems

    chosen = [s.strip() for s in args.systems.split(",")] if args.systems else [*systems.SYSTEMS, "ceiling"]
    unknown = [s for s in chosen if s not in systems.SYSTEMS and s != "ceiling"]
    if unknown:
        raise ValueError(f"unknown systems {unknown}; choose from {[*systems.SYSTEMS, 'ceiling']}")
    if not (args.model / "model.onnx").is_file():
        raise FileNotFoundError(f"{args.model} has no model.onnx; build the test model with `python models/minilm_test_model.py` or pass a model directory")
    return compare.Options(
        model=args.model,
        threads=args.threads,
        queries=args.queries,
        docs=args.docs,
        rounds=args.rounds,
        workdir=args.workdir,
        out=args.out,
        peer_python=args.peer_python,
        systems=chosen,
        sweep=not args.no_sweep,
        memory_calls=args.memory_calls,
    )


def register(subparsers: Any) -> None:
    """Adds ``fastrerank bench``."""
    p = subparsers.add_parser(
        "bench",
        help="benchmark fastrerank (with --compare: against its peers, the ceiling and the host pipeline)",
        description=(
            "Benchmarks reranking on MODEL. Alone: fastrerank (fp32, fused, int8), the zero-padding ceiling and the host "
            "pipeline. With --compare: also sentence-transformers, fastembed, FlashRank and a plain ONNX Runtime loop, "
            "each in its own process, runs alternated. Writes OUT.md, OUT.json and OUT.png."
        ),
    )
    add_arguments(p)
    p.add_argument("--compare", action="store_true", help="include the peer systems")
    p.set_defaults(func=_bench)


def _bench(args: argparse.Namespace) -> int:
    from fastrerank.bench import compare, systems

    if not args.compare and not args.systems:
        args.systems = ",".join(s for s in [*systems.SYSTEMS, "ceiling"] if s not in systems.PEERS)
    results = compare.run(options_from(args))
    sys.stdout.write(compare.markdown(results))
    return 0
