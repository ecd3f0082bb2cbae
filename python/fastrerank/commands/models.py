"""``fastrerank models``, ``fastrerank download`` and ``fastrerank export``: the model registry,
fetching a named model, and exporting a transformers cross-encoder to ONNX."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from fastrerank import hub, registry
from fastrerank.models import PRECISIONS

__all__ = ["register"]

DOWNLOAD_HELP = "fetch a named model into the local cache (exporting it when the repo has no ONNX)"
DOWNLOAD_DESCRIPTION = (
    "Downloads MODEL from the Hugging Face Hub into the Hugging Face cache (extra `hub`). When the repo ships "
    "no ONNX file for a precision, downloads its weights and exports them into fastrerank's cache "
    "(extra `export`). Afterwards `Reranker(MODEL)` finds it offline."
)

EXPORT_HELP = "export a transformers cross-encoder to an ONNX model directory"
EXPORT_DESCRIPTION = (
    "Exports SRC (a transformers model directory or Hub id) to OUT: model.onnx (fp32), plus model_int8.onnx "
    "and/or model_fp16.onnx with --precision. --optimize fuses the graph (Attention, EmbedLayerNorm, "
    "SkipLayerNorm, BiasGelu). Every file is measured against SRC on a built-in probe set; the numbers go to "
    "OUT/fastrerank-export.json. Fails if fp32 differs from SRC by more than 1e-4. Needs the `export` extra."
)

SOURCE_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.py"]


def register(subparsers: Any) -> None:
    """Adds the model commands."""
    p = subparsers.add_parser(
        "models",
        help="list the rerankers fastrerank knows by name",
        description="Lists the model registry: Hub repo (and former ids), license, window, head, size, precisions shipped as ONNX.",
    )
    p.add_argument("--json", action="store_true", help="print the registry as JSON")
    p.set_defaults(func=_models)

    p = subparsers.add_parser("download", help=DOWNLOAD_HELP, description=DOWNLOAD_DESCRIPTION)
    p.add_argument("model", nargs="?", default=registry.default_model(), help=f"Hub id (default: {registry.default_model()})")
    p.add_argument("--precision", action="append", choices=PRECISIONS, help="precisions to fetch (repeatable; default fp32)")
    p.set_defaults(func=_download)

    p = subparsers.add_parser("export", help=EXPORT_HELP, description=EXPORT_DESCRIPTION)
    p.add_argument("source", metavar="SRC", help="transformers model directory or Hub id")
    p.add_argument("out", metavar="OUT", help="output model directory")
    p.add_argument("--precision", action="append", choices=PRECISIONS, help="extra precisions (repeatable; fp32 is always written)")
    p.add_argument("--optimize", action="store_true", help="fuse the graph with ONNX Runtime's transformer optimizer")
    p.set_defaults(func=_export)


def _models(args: argparse.Namespace) -> int:
    rows = registry.entries()
    kinds = registry.architectures()
    if args.json:
        json.dump([dataclasses.asdict(e) for e in rows], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    default = registry.default_model()
    print(f"{'model':44} {'license':12} {'window':>6} {'head':>4}  {'onnx on hub':14}  size")
    for e in rows:
        onnx = ",".join(p for p in PRECISIONS if e.onnx_file(p)) or "export"
        marks = ("*" if e.unverified else "") + ("!" if not kinds[e.architecture].exercised else "")
        note = "".join(f"; was {a}" for a in e.aliases) + (" (default)" if e.name == default else "")
        print(f"{e.name + marks:44} {e.license:12} {e.max_length:>6} {e.logits:>4}  {onnx:14}  {e.size}{note}")
    print("\n* some facts not checked against the Hub (`fastrerank models --json` lists them)")
    for kind in kinds.values():
        if not kind.exercised:
            print(f"! {kind.name}: {kind.how}")
    return 0


def _download(args: argparse.Namespace) -> int:
    from fastrerank.models import ModelNotAvailableError, resolve

    precisions = args.precision or ["fp32"]
    entry = registry.lookup(args.model)
    repo = entry.name if entry else args.model
    revision = entry.revision if entry else "main"
    to_export = []
    for p in precisions:
        if entry is not None and not entry.onnx_file(p):
            to_export.append(p)
            continue
        try:
            files = resolve(repo, p)
        except ModelNotAvailableError:
            if entry is not None:
                raise
            to_export.append(p)  # an unregistered repo without this precision: export it
            continue
        print(f"{repo}: {p} is {files.onnx}")
    if to_export:
        from fastrerank.export import export

        snapshot = hub.download(repo, SOURCE_PATTERNS, revision)
        out = hub.exported_dir(repo)
        manifest = export(snapshot, out, precisions=to_export, optimize=True)
        manifest["source_commit"] = snapshot.name
        (out / "fastrerank-export.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        print(f"{repo}: exported {', '.join(to_export)} to {out} (source commit {snapshot.name})")
    for p in precisions:
        resolve(args.model, p, allow_download=False)  # it must now resolve offline
    return 0


def _export(args: argparse.Namespace) -> int:
    from fastrerank.export import export

    manifest = export(args.source, Path(args.out), precisions=args.precision or ["fp32"], optimize=args.optimize)
    print(f"exported {args.source} to {args.out}")
    if manifest.get("fused_nodes") is not None:
        print("fused nodes: " + ", ".join(f"{k} {v}" for k, v in manifest["fused_nodes"].items()))
    for precision, m in manifest["probe"].items():
        if m.get("measured"):
            print(
                f"{precision}: max |diff| {m['max_abs_diff']:.2e}, spearman {m['spearman']:.4f}, "
                f"top-10 overlap {m['top10_overlap']:.3f} ({m['pairs']} probe pairs)"
            )
        else:
            print(f"{precision}: not measured here ({m['reason']})")
    return 0
