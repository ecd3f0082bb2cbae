"""Export a transformers sequence-classification model (a cross-encoder) to an ONNX model
directory that :class:`fastrerank.Reranker` loads, optionally optimised (fused graph) and
quantised (int8) or halved (fp16). Every export measures itself against the source model on a
built-in probe set and records the result in ``fastrerank-export.json``. Needs the ``export``
extra (torch, transformers, onnx).
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import importlib.metadata
import json
import logging
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fastrerank import probes
from fastrerank.models import ONNX_FILE
from fastrerank.progress import Progress

__all__ = ["FP32_TOLERANCE", "ExportError", "export", "export_onnx", "onnx_input_names", "sha256_file"]

OPSET = 17
ONNX_SIZE_LIMIT = 2_000_000_000  # protobuf's 2 GB: past it, weights go to external data
FP32_TOLERANCE = 1e-4
# int8 quantises the feed-forward down-projections of the last this many layers only, the others
# stay fp32: one scale per tensor for their inputs (GELU outputs, a few tokens far out) costs the
# most agreement. On the man-page MiniLM-L6 (benchmarks/agreement.py, 100 held-out queries, one
# run, speeds paired with `--time`): all down-projections fp32 1.41x fp32's speed, top-10 overlap
# 0.952; the last two quantised 1.58x, 0.952 (MRR@10 0.669, fp32 0.685); the last one 1.45x,
# 0.953; all of them 1.90x, 0.935. No one layer stood out as insensitive on both models measured.
# Measured on AVX-512 VNNI only: with reduce_range (CPUs without VNNI, 7-bit weights) every
# down-projection stays fp32, the scheme measured there before (an AVX2 EPYC: quantising them
# cost top-10 overlap 0.90 -> 0.83).
INT8_DOWN_LAYERS = 2
MANIFEST = "fastrerank-export.json"
# Node types the transformer optimizer fuses a BERT-like graph into.
FUSED_OPS = (
    "EmbedLayerNormalization",
    "Attention",
    "MultiHeadAttention",
    "SkipLayerNormalization",
    "BiasGelu",
    "FastGelu",
    "Gelu",
    "LayerNormalization",
)


class ExportError(RuntimeError):
    """The export ran but does not meet its bar (e.g. fp32 differs from the source)."""


def onnx_input_names(config: dict[str, Any]) -> list[str]:
    """The graph inputs: token_type_ids only for models that have more than one segment type."""
    names = ["input_ids", "attention_mask"]
    if int(config.get("type_vocab_size", 0) or 0) > 1:
        names.append("token_type_ids")
    return names


def export_onnx(source: str | Path, out: str | Path, *, opset: int = OPSET) -> Path:
    """Writes ``model.onnx``, ``tokenizer.json`` and ``config.json`` for ``source`` into ``out``.

    The model is traced with eager attention (plain MatMul/Softmax nodes, which ONNX Runtime's
    transformer optimizer can fuse), with dynamic batch and sequence axes. Returns ``out``.
    """
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = AutoModelForSequenceClassification.from_pretrained(str(source), attn_implementation="eager").eval()
    names = onnx_input_names(model.config.to_dict())

    class LogitsOnly(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(names, args))).logits

    # Two rows, the second padded, so the trace sees a real attention mask.
    input_ids = torch.tensor([[5, 6, 7, 8, 9, 10], [5, 6, 7, 8, 0, 0]], dtype=torch.long)
    attention_mask = (input_ids != 0).long()
    attention_mask[0] = 1
    dummies = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": torch.zeros_like(input_ids)}
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["logits"] = {0: "batch"}
    with torch.no_grad(), warnings.catch_warnings():
        # The tracer's and the exporter's notes (Python values baked into the graph, how an
        # operator was spelled, that this exporter is the legacy one): export() measures the
        # graph against the source model instead, and so do the tests.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"(torch\.onnx|transformers)")
        torch.onnx.export(
            LogitsOnly(model),
            tuple(dummies[n] for n in names),
            str(out / "model.onnx"),
            dynamo=False,
            input_names=names,
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=opset,
            do_constant_folding=True,
        )

    src = Path(source)
    same_dir = src.is_dir() and src.resolve() == out.resolve()
    if src.is_dir() and (src / "tokenizer.json").is_file():
        if not same_dir:
            shutil.copyfile(src / "tokenizer.json", out / "tokenizer.json")
    else:
        tokenizer = AutoTokenizer.from_pretrained(str(source), use_fast=True)
        if not tokenizer.is_fast:
            raise ValueError(f"{source} has no fast tokenizer (tokenizer.json); fastrerank needs one")
        tokenizer.backend_tokenizer.save(str(out / "tokenizer.json"))
    if not same_dir:
        model.config.to_json_file(str(out / "config.json"))
    return out


def optimize_graph(path: Path, config: dict[str, Any], *, out: Path | None = None) -> dict[str, int]:
    """Fuses ``path`` with ONNX Runtime's transformer optimizer, in place or into ``out``;
    returns the fused node counts (Attention, EmbedLayerNormalization, SkipLayerNormalization,
    BiasGelu, ...). Weights past 2 GB go to external data beside the output."""
    from onnxruntime.transformers import optimizer

    optimized = optimizer.optimize_model(
        str(path),
        model_type="bert",  # the BERT fusions also cover RoBERTa / XLM-R encoders
        num_heads=int(config.get("num_attention_heads", 0)),
        hidden_size=int(config.get("hidden_size", 0)),
        opt_level=0,  # graph fusions only; ORT's own level-99 rewrites happen at load
    )
    target = out or path
    optimized.save_model_to_file(str(target), use_external_data_format=optimized.model.ByteSize() > ONNX_SIZE_LIMIT)
    counts = {op: n for op, n in optimized.get_fused_operator_statistics().items() if n}
    return {op: counts.get(op, 0) for op in FUSED_OPS if counts.get(op, 0)} | {k: v for k, v in counts.items() if k not in FUSED_OPS}


GELU_OPS = ("Gelu", "BiasGelu", "FastGelu", "GemmFastGelu")


def ffn_output_matmuls(graph) -> list[str]:  # type: ignore[no-untyped-def]
    """The feed-forward down-projections: MatMuls whose input is a GELU's output, fused
    (Gelu, BiasGelu, ...) or spelled out (x * 0.5 * (1 + erf(x / sqrt 2)): an Erf a few
    elementwise nodes up). Found by the graph's structure, not by node names."""
    produced_by = {out: node for node in graph.node for out in node.output}

    def after_gelu(tensor: str) -> bool:
        frontier, seen = [tensor], 0
        while frontier and seen < 6:  # a spelled-out GELU is five nodes deep
            node = produced_by.get(frontier.pop())
            seen += 1
            if node is None or node.op_type in ("MatMul", "Gemm", "Attention"):
                continue
            if node.op_type in GELU_OPS or node.op_type == "Erf":
                return True
            frontier.extend(node.input)
        return False

    return [n.name for n in graph.node if n.op_type == "MatMul" and after_gelu(n.input[0])]


def head_matmuls(graph) -> list[str]:  # type: ignore[no-untyped-def]
    """The classification head's MatMuls / Gemms (pooler, classifier: after the encoder's last
    layer norm), by their names and by the ``<name>_MatMul`` the quantizer gives a Gemm it
    splits into MatMul + Add. One row per pair runs through them: int8 there saves nothing."""
    norms = [i for i, n in enumerate(graph.node) if n.op_type in ("LayerNormalization", "SkipLayerNormalization")]
    names = []
    for n in graph.node[norms[-1] + 1 :] if norms else []:
        if not n.name:  # nodes_to_exclude matches by name: "" would match every unnamed node
            continue
        if n.op_type == "MatMul":
            names.append(n.name)
        elif n.op_type == "Gemm":
            names += [n.name, f"{n.name}_MatMul"]
    return names


def quantised_down_projections(graph, reduce_range: bool) -> list[str]:  # type: ignore[no-untyped-def]
    """The feed-forward down-projections the default int8 scheme quantises: those of the last
    INT8_DOWN_LAYERS encoder layers (none with ``reduce_range``)."""
    head = set(head_matmuls(graph))
    down = [n for n in ffn_output_matmuls(graph) if n not in head]  # in graph order: layer by layer
    layers = 0 if reduce_range else min(INT8_DOWN_LAYERS, len(down))
    return down[len(down) - layers :] if layers else []


def onnx_graph(path: Path):  # type: ignore[no-untyped-def]
    """The graph of an ONNX file, without its external weights."""
    import onnx

    return onnx.load(str(path), load_external_data=False).graph


def quantize_int8(src: Path, dst: Path, *, reduce_range: bool, keep: Sequence[str] | None = None) -> list[str]:
    """Dynamic int8 quantisation, per channel, of the attention and projection MatMuls.
    ``reduce_range`` (7-bit weights) avoids saturation in the u8 x s8 kernels of CPUs without
    VNNI. The embeddings, the classification head and the feed-forward down-projections of all
    but the last INT8_DOWN_LAYERS layers stay fp32 (all of them with ``reduce_range``; see
    INT8_DOWN_LAYERS). ``keep``: the MatMul /
    Attention nodes to leave in fp32 instead (the head stays fp32 always). Returns the nodes
    kept in fp32."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if isinstance(keep, str):
        raise TypeError(f"keep must be a sequence of node names, not one str ({keep!r}); pass [{keep!r}]")
    graph = onnx_graph(src)
    if keep is None:
        quantised = set(quantised_down_projections(graph, reduce_range))
        keep = [n for n in ffn_output_matmuls(graph) if n not in quantised]
    keep = list(keep) + [name for name in head_matmuls(graph) if name not in keep]
    with _without_preprocessing_advice():
        quantize_dynamic(
            str(src),
            str(dst),
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=reduce_range,
            op_types_to_quantize=["MatMul", "Attention"],
            nodes_to_exclude=keep,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},  # fused ops have no shape inference
        )
    return keep


@contextlib.contextmanager
def _without_preprocessing_advice() -> Iterator[None]:
    """Drops ONNX Runtime's advice, logged on the root logger at every quantisation, to run its
    shape-inference pre-processing first (the graph is quantised as exported, measured after)."""

    def advice(record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(advice)
    try:
        yield
    finally:
        root.removeFilter(advice)


def convert_fp16(src: Path, dst: Path) -> None:
    """fp16 weights and activations, float32 inputs and outputs (for CUDA)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
    onnx.save(model, str(dst))


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x))
    for v in np.unique(x):  # average ranks of ties
        tie = x == v
        ranks[tie] = ranks[tie].mean()
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    ra, rb = _ranks(a), _ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return 1.0 if np.array_equal(ra, rb) else 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def top_k_overlap(a: np.ndarray, b: np.ndarray, k: int = 10) -> float:
    """|top-k(a) ∩ top-k(b)| / k (ties to the lower index, as the engine ranks)."""
    k = min(k, len(a))
    top = lambda x: set(np.lexsort((np.arange(len(x)), -x))[:k].tolist())  # noqa: E731
    return len(top(a) & top(b)) / k


def reference_scores(source: str | Path, pairs_by_query: list[tuple[str, list[str]]], max_length: int, template: Any) -> list[np.ndarray]:
    """The source model's own scores (transformers on torch, fp32) with the activation the
    engine's ``normalize="auto"`` applies. Pairs are built by the source tokenizer itself
    (``Encoding.truncate`` + its post-processor), each text cut to the tokens the core keeps of
    it in one window (``_core.plan_documents`` with ``template``: the query at most half of the
    window, the document the rest)."""
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from fastrerank import _core

    model = AutoModelForSequenceClassification.from_pretrained(str(source)).eval()
    hf = AutoTokenizer.from_pretrained(str(source), use_fast=True)
    tok = Tokenizer.from_str(hf.backend_tokenizer.to_str())
    tok.no_truncation()
    tok.no_padding()
    pad = hf.pad_token_id if hf.pad_token_id is not None else 0
    with_types = int(getattr(model.config, "type_vocab_size", 1) or 1) > 1
    out = []
    with torch.no_grad():
        for query, docs in pairs_by_query:
            q = tok.encode(query, add_special_tokens=False)
            encoded = tok.encode_batch(docs, add_special_tokens=False)
            doc_offsets = np.cumsum([0, *(len(d.ids) for d in encoded)], dtype=np.int64)
            query_tokens, _, kept, *_ = _core.plan_documents(
                np.array([0, len(q.ids)], dtype=np.int64),
                doc_offsets,
                template,
                max_length=max_length,
                max_tokens_per_doc=_core.NO_LIMIT,
                max_windows_per_doc=1,
            )
            q.truncate(int(query_tokens[0]))
            rows = []
            for d, keep in zip(encoded, kept.tolist()):
                d.truncate(keep)
                pair = tok.post_process(q, d, add_special_tokens=True)
                rows.append((pair.ids, pair.type_ids))
            width = max(len(ids) for ids, _ in rows)
            feeds = {
                "input_ids": torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in rows]),
                "attention_mask": torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in rows]),
            }
            if with_types:
                feeds["token_type_ids"] = torch.tensor([t + [0] * (width - len(t)) for _, t in rows])
            logits = model(**feeds).logits
            scores = torch.sigmoid(logits[:, 0]) if logits.shape[-1] == 1 else torch.softmax(logits, -1)[:, 1]
            out.append(scores.numpy().astype(np.float64))
    return out


def measure(out: Path, precision: str, reference: list[np.ndarray], pairs_by_query: list[tuple[str, list[str]]]) -> dict[str, Any]:
    """Agreement of ``precision`` in ``out`` with the reference on the probe set."""
    from fastrerank import Reranker

    try:
        rr = Reranker(out, precision=precision)
        got = []
        for query, docs in pairs_by_query:
            # one window per document, cut like the reference's "only_second" truncation
            scores = np.empty(len(docs))
            for r in rr.rerank(query, docs, max_windows_per_doc=1).results:
                scores[r.index] = r.relevance_score
            got.append(scores)
    except Exception as e:  # e.g. fp16 kernels missing on the CPU execution provider
        return {"measured": False, "reason": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"}
    diffs = [float(np.abs(g - r).max()) for g, r in zip(got, reference)]
    return {
        "measured": True,
        "pairs": sum(len(d) for _, d in pairs_by_query),
        "max_abs_diff": max(diffs),
        "spearman": float(np.mean([spearman(g, r) for g, r in zip(got, reference)])),
        "top10_overlap": float(np.mean([top_k_overlap(g, r) for g, r in zip(got, reference)])),
    }


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def export(
    source: str | Path,
    out: str | Path,
    *,
    precisions: Sequence[str] = ("fp32",),
    optimize: bool = False,
    opset: int = OPSET,
) -> dict[str, Any]:
    """Exports ``source`` (a transformers model directory or Hub id) into ``out``: always
    ``model.onnx`` (fp32, fused with ``optimize``), plus ``model_int8.onnx`` / ``model_fp16.onnx``
    when asked. Measures every file against the source on the probe set, writes the manifest
    ``fastrerank-export.json`` and returns it. Raises :class:`ExportError` when fp32 differs from
    the source by more than 1e-4."""
    from fastrerank.cpu import has_vnni

    wanted = list(dict.fromkeys(["fp32", *precisions]))
    unknown = [p for p in wanted if p not in ONNX_FILE]
    if unknown:
        raise ValueError(f"precision must be fp32, int8 or fp16; got {unknown}")
    out = Path(out)
    steps = 2 + int(optimize) + len(wanted) - 1 + 1
    manifest: dict[str, Any] = {
        "source": str(source),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "opset": opset,
        "versions": {d: _version(d) for d in ("fastrerank", "torch", "transformers", "onnx", "onnxruntime")},
        "optimized": optimize,
    }
    with Progress(steps, "export") as progress:
        progress.step("exporting fp32 (torch.onnx)")
        export_onnx(source, out, opset=opset)
        config = json.loads((out / "config.json").read_text(encoding="utf-8"))
        if optimize:
            progress.step("fusing the graph (onnxruntime.transformers)")
            manifest["fused_nodes"] = optimize_graph(out / ONNX_FILE["fp32"], config)
        if "int8" in wanted:
            progress.step("quantising to int8")
            with tempfile.TemporaryDirectory(dir=out) as tmp:
                # from the fused graph, so ONNX Runtime's fused int8 kernels (QAttention) run
                fused = out / ONNX_FILE["fp32"] if optimize else Path(tmp) / "fused.onnx"
                if not optimize:
                    optimize_graph(out / ONNX_FILE["fp32"], config, out=fused)
                kept = quantize_int8(fused, out / ONNX_FILE["int8"], reduce_range=not has_vnni())
                quantised = quantised_down_projections(onnx_graph(fused), not has_vnni())
            manifest["int8"] = {
                "reduce_range": not has_vnni(),
                "per_channel": True,
                "method": "dynamic",
                "from": "fused graph",
                "quantised_down_projections": quantised,  # of the last layers; the others are in kept_fp32
                "kept_fp32": ["embeddings", *kept],
            }
        if "fp16" in wanted:
            progress.step("converting to fp16")
            convert_fp16(out / ONNX_FILE["fp32"], out / ONNX_FILE["fp16"])
        progress.step("measuring against the source on the probe set")
        pairs = [(q, list(probes.DOCUMENTS)) for q in probes.QUERIES]
        from fastrerank.models import max_length_from_config
        from fastrerank.tokenization import load as load_tokenizer

        template = load_tokenizer(out).pair_template
        reference = reference_scores(source, pairs, max_length_from_config(config) or 512, template)
        manifest["probe"] = {p: measure(out, p, reference, pairs) for p in wanted}
        progress.step("writing the manifest")
        manifest["files"] = {
            ONNX_FILE[p]: {"precision": p, "bytes": (out / ONNX_FILE[p]).stat().st_size, "sha256": sha256_file(out / ONNX_FILE[p])}
            for p in wanted
        }
        (out / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    fp32 = manifest["probe"]["fp32"]
    if not fp32.get("measured") or fp32["max_abs_diff"] > FP32_TOLERANCE:
        raise ExportError(f"the fp32 export does not reproduce the source model (probe: {fp32}); see {out / MANIFEST}")
    return manifest
