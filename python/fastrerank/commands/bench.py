"""``fastrerank bench``: fastrerank's throughput and latency on a model, or with ``--compare``
the full peer comparison (see :mod:`fastrerank.bench.compare`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from fastrerank.bench.options import add_arguments, default_systems, options_from

__all__ = ["register"]

HELP = "benchmark fastrerank (with --compare: against its peers, the ceiling and the host pipeline)"
DESCRIPTION = (
    "Benchmarks reranking on MODEL. Alone: fastrerank (fp32, fused, int8), the zero-padding ceiling and the host "
    "pipeline. With --compare: also sentence-transformers, fastembed, FlashRank and a plain ONNX Runtime loop, "
    "each in its own process, runs alternated. Writes OUT.md, OUT.json and OUT.png."
)


def register(subparsers: Any) -> None:
    """Adds ``fastrerank bench``."""
    p = subparsers.add_parser("bench", help=HELP, description=DESCRIPTION)
    add_arguments(p)
    p.add_argument("--compare", action="store_true", help="include the peer systems")
    p.set_defaults(func=_bench)


def _bench(args: argparse.Namespace) -> int:
    from fastrerank.bench import compare, systems

    if not args.compare and not args.systems:
        args.systems = ",".join(s for s in default_systems() if s not in systems.PEERS)
    results = compare.run(options_from(args))
    sys.stdout.write(compare.markdown(results))
    return 0
