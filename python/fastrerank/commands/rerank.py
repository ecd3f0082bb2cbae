"""``fastrerank rerank``: rank documents from a file or standard input; print Cohere v2 JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from fastrerank.commands.common import CommandError, add_engine_arguments, engine_options
from fastrerank.defaults import DEFAULT_MAX_TOKENS_PER_DOC

__all__ = ["register"]

HELP = "rerank documents (one per line, or JSON Lines) against a query; prints Cohere v2 JSON"
DESCRIPTION = (
    "Ranks documents by relevance to QUERY and prints the Cohere v2 response as JSON. "
    "Documents come one per line from FILE (or standard input with '-' or no FILE); "
    "with --jsonl each line is a JSON object (or string), ranked on --rank-fields or its 'text' field."
)


def register(subparsers: Any) -> None:
    """Adds ``fastrerank rerank``."""
    p = subparsers.add_parser("rerank", help=HELP, description=DESCRIPTION)
    p.add_argument("file", nargs="?", default="-", metavar="FILE", help="documents, one per line ('-': standard input)")
    p.add_argument("--model", "-m", required=True, help="model directory (model.onnx, tokenizer.json, config.json) or name")
    p.add_argument("--query", "-q", required=True, help="the search query")
    p.add_argument("--top-n", type=int, default=None, help="how many results to print (default: all)")
    p.add_argument(
        "--max-tokens-per-doc", type=int, default=DEFAULT_MAX_TOKENS_PER_DOC, help="document tokens ranked (default: %(default)s)"
    )
    p.add_argument("--jsonl", action="store_true", help="each line is a JSON document (object or string)")
    p.add_argument("--rank-fields", default=None, help="with --jsonl: comma-separated fields to rank on, in order")
    p.add_argument("--return-documents", action="store_true", help="include each document in its result")
    add_engine_arguments(p)
    p.set_defaults(func=_rerank)


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
    rr = Reranker(args.model, **engine_options(args))
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
