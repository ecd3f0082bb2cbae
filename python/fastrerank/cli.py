"""The ``fastrerank`` command line.

Every subcommand lives in its own module with ``register(subparsers)``, which adds its parser and
sets ``func`` (called with the parsed arguments, returning the exit status).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["CommandError", "main"]

# Modules that add subcommands, in the order --help lists them.
COMMAND_MODULES = (
    "fastrerank.cli",  # rerank
    "fastrerank.model_cli",  # models, download, export
    "fastrerank.bench.cli",  # bench
    "fastrerank.server.cli",  # serve
)


class CommandError(Exception):
    """A user error: printed as one line, exit status 2."""


def register(subparsers: Any) -> None:
    """Adds ``fastrerank rerank``."""
    p = subparsers.add_parser(
        "rerank",
        help="rerank documents (one per line, or JSON Lines) against a query; prints Cohere v2 JSON",
        description=(
            "Ranks documents by relevance to QUERY and prints the Cohere v2 response as JSON. "
            "Documents come one per line from FILE (or standard input with '-' or no FILE); "
            "with --jsonl each line is a JSON object (or string), ranked on --rank-fields or its 'text' field."
        ),
    )
    p.add_argument("file", nargs="?", default="-", metavar="FILE", help="documents, one per line ('-': standard input)")
    p.add_argument("--model", "-m", required=True, help="model directory (model.onnx, tokenizer.json, config.json) or name")
    p.add_argument("--query", "-q", required=True, help="the search query")
    p.add_argument("--top-n", type=int, default=None, help="how many results to print (default: all)")
    p.add_argument("--max-tokens-per-doc", type=int, default=4096, help="document tokens ranked (default: 4096)")
    p.add_argument("--jsonl", action="store_true", help="each line is a JSON document (object or string)")
    p.add_argument("--rank-fields", default=None, help="with --jsonl: comma-separated fields to rank on, in order")
    p.add_argument("--return-documents", action="store_true", help="include each document in its result")
    _add_engine_arguments(p)
    p.set_defaults(func=_rerank)


def _add_engine_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default: cpu)")
    p.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "int8"], help="which model file to run (default: fp32)")
    p.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads (default: physical cores)")


def _read_documents(path: str, jsonl: bool) -> list[Any]:
    try:
        stream = sys.stdin if path == "-" else open(path, encoding="utf-8")
    except OSError as e:
        raise CommandError(f"cannot read {path}: {e.strerror}") from e
    with stream:
        lines = [line.rstrip("\r\n") for line in stream]
    if not jsonl:
        return lines
    docs = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            docs.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise CommandError(f"{path}:{n}: not valid JSON ({e.msg})") from e
    return docs


def _rerank(args: argparse.Namespace) -> int:
    from fastrerank import Reranker

    docs = _read_documents(args.file, args.jsonl)
    fields = [f.strip() for f in args.rank_fields.split(",") if f.strip()] if args.rank_fields else None
    if fields and not args.jsonl:
        raise CommandError("--rank-fields needs --jsonl (documents as JSON objects)")
    rr = Reranker(args.model, device=args.device, precision=args.precision, threads=args.threads)
    resp = rr.rerank(
        args.query,
        docs,
        top_n=args.top_n,
        max_tokens_per_doc=args.max_tokens_per_doc,
        rank_fields=fields,
        return_documents=args.return_documents,
    )
    json.dump(resp.to_dict(), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The parser with every available subcommand."""
    from fastrerank import __version__

    parser = argparse.ArgumentParser(
        prog="fastrerank",
        description="A fast, faithful rerank engine: cross-encoders on ONNX Runtime, Cohere Rerank v2 responses.",
    )
    parser.add_argument("--version", action="version", version=f"fastrerank {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMAND_MODULES:
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
