"""The fused copy of an fp32 graph, made once and cached.

ONNX Runtime does not fuse a traced transformer at load: its runtime rewrites leave the
attention spelled out in ~200 small nodes (shape arithmetic, transposes, softmax) that cost a
few milliseconds per call. Its offline transformer optimizer (the same pass as ``fastrerank
export --optimize``) folds them into Attention, EmbedLayerNormalization, SkipLayerNormalization
and BiasGelu. :func:`fused_copy` runs it once per model file and keeps the result in
``$FASTRERANK_HOME/fused`` (else ~/.cache/fastrerank/fused), keyed by the file's SHA-256 and
the ONNX Runtime version, and hands it out only when its logits match the original's within
:data:`FUSED_TOLERANCE` on a probe batch. Needs the ``onnx`` package (the optimizer's); without
it, or when the graph does not fuse, the original runs.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from fastrerank.hub import fastrerank_home

__all__ = ["FUSED_TOLERANCE", "fused_cache_dir", "fused_copy", "is_fused"]

FUSED_TOLERANCE = 1e-5  # largest logit difference from the original the fused copy may have
VERDICT = "fastrerank-fused.json"
FUSED_OPS = ("Attention", "MultiHeadAttention", "SkipLayerNormalization", "EmbedLayerNormalization")
_MEMO = "hashes.json"  # (path, size, mtime) -> sha256, so a load hashes a file once

log = logging.getLogger("fastrerank")


def fused_cache_dir() -> Path:
    """Where fused copies are kept: $FASTRERANK_HOME/fused, else ~/.cache/fastrerank/fused."""
    return fastrerank_home() / "fused"


def is_fused(model: Path) -> bool:
    """Whether ``model`` has fused transformer nodes already (e.g. ``export --optimize``).
    Reads the graph without its weights."""
    from fastrerank.export import onnx_graph

    return any(node.op_type in FUSED_OPS for node in onnx_graph(model).node)


def _sha256(model: Path, cache: Path) -> str:
    from fastrerank.export import sha256_file

    stat = model.stat()
    key = f"{model.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    memo_file = cache / _MEMO
    try:
        memo = json.loads(memo_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        memo = {}
    if key not in memo:
        memo[key] = sha256_file(model)
        _write_atomic(memo_file, json.dumps(memo))
    return str(memo[key])


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, encoding="utf-8") as f:
        f.write(text)
    os.replace(f.name, path)


def _probe_feeds(config: dict[str, Any], names: set[str]) -> dict[str, np.ndarray]:
    """Three 24-token rows of random ids, the last one half padding; token types when asked."""
    rng = np.random.default_rng(0)
    vocab = int(config.get("vocab_size", 1000) or 1000)
    ids = rng.integers(min(5, vocab - 1), vocab, size=(3, 24), dtype=np.int64)
    mask = np.ones_like(ids)
    mask[2, 12:] = 0
    feeds = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in names:
        types = np.zeros_like(ids)
        if int(config.get("type_vocab_size", 1) or 1) > 1:
            types[:, 12:] = 1
        feeds["token_type_ids"] = types
    return feeds


def _max_logit_difference(original: Path, fused: Path, config: dict[str, Any]) -> float:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    a = ort.InferenceSession(str(original), options, providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(str(fused), options, providers=["CPUExecutionProvider"])
    feeds = _probe_feeds(config, {i.name for i in a.get_inputs()})
    want = {i.name: i.type for i in a.get_inputs()}
    feeds = {k: v.astype(np.int32) if want.get(k) == "tensor(int32)" else v for k, v in feeds.items() if k in want}
    return float(np.abs(a.run(None, feeds)[0] - b.run(None, feeds)[0]).max())


def fused_copy(model: Path, config: dict[str, Any]) -> Path | None:
    """The fused copy of the fp32 graph ``model`` (made now when it is not cached), or None
    where the original should run: ``onnx`` not installed, the graph fused already or not
    fusable, or the copy's logits off by more than FUSED_TOLERANCE (remembered: a model file
    is looked at once). ``config`` is the model's
    config.json (heads and hidden size). Never raises for a model that loads: any failure
    means "run the original" and is logged."""
    try:
        import onnx  # noqa: F401  (the optimizer needs it)
        import onnxruntime as ort
    except ImportError:
        return None
    try:
        cache = fused_cache_dir()
        digest = _sha256(model, cache)
        target = cache / f"{digest[:32]}-ort{ort.__version__}"
        verdict_file = target / VERDICT
        if not verdict_file.is_file():
            _make(model, config, target)
        verdict = json.loads(verdict_file.read_text(encoding="utf-8"))
    except Exception as e:  # a cache we cannot write, an optimizer that fails on this graph, ...
        log.warning("fastrerank: running %s unfused (%s: %s)", model, type(e).__name__, e)
        return None
    return target / "model.onnx" if verdict["use"] else None


def _make(model: Path, config: dict[str, Any], target: Path) -> None:
    """Fuses ``model`` into ``target`` (model.onnx + the verdict), atomically."""
    from fastrerank.export import optimize_graph

    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=".making-"))
    try:
        already = is_fused(model)
        fused_nodes = {}
        if not already:
            log.info("fastrerank: fusing %s once into %s", model, target)
            fused_nodes = optimize_graph(model, config, out=work / "model.onnx")
        fused = any(op in fused_nodes for op in FUSED_OPS)
        diff = _max_logit_difference(model, work / "model.onnx", config) if fused else None
        verdict = {
            "source": str(model.resolve()),
            "fused_already": already,
            "fused_nodes": fused_nodes,
            "max_abs_logit_diff": diff,
            "tolerance": FUSED_TOLERANCE,
            "use": bool(fused and diff is not None and diff <= FUSED_TOLERANCE),
        }
        (work / VERDICT).write_text(json.dumps(verdict, indent=2), encoding="utf-8")
        try:
            os.replace(work, target)
        except OSError:  # another process made it first: keep theirs
            pass
    finally:
        shutil.rmtree(work, ignore_errors=True)
