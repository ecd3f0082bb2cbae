"""The ``fastrerank`` command line: the parser made of every command in
:mod:`fastrerank.commands`, and how errors end (one line, exit status 2)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from fastrerank.commands import MODULES
from fastrerank.commands.common import CommandError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The parser with every available subcommand."""
    from fastrerank import __version__

    parser = argparse.ArgumentParser(
        prog="fastrerank",
        description="A fast, faithful rerank engine: cross-encoders on ONNX Runtime, Cohere Rerank v2 responses.",
    )
    parser.add_argument("--version", action="version", version=f"fastrerank {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name is not None and name.startswith(e.name):
                continue  # that part of the package is not there
            raise
        module.register(subparsers)
    return parser


# A missing optional dependency, as the extra that brings it.
EXTRA_OF = {
    "torch": "export",
    "transformers": "export",
    "onnx": "export",
    "huggingface_hub": "hub",
    "msgspec": "server",
    "uvicorn": "server",
    "matplotlib": "bench",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except (CommandError, ValueError, TypeError, FileNotFoundError, RuntimeError) as e:
        print(f"fastrerank: error: {e}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:
        missing = (e.name or "").split(".")[0]
        if missing not in EXTRA_OF:
            raise
        print(f"fastrerank: error: this command needs {missing}: pip install 'fastrerank[{EXTRA_OF[missing]}]'", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
