"""benchmarks/smoothquant.py, the SmoothQuant scaling the int8 study tried: in fp32 it must
compute the model's own function, so that what it changes is only what int8 then loses."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from fastrerank import Reranker, fusion
from fastrerank.export import FP32_TOLERANCE, ffn_output_matmuls

from texts import DOCUMENTS

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import smoothquant  # noqa: E402

pytest.importorskip("onnx")


@pytest.fixture
def fused(tiny_models, tmp_path, monkeypatch):
    """A copy of the tiny BERT model directory whose model.onnx is its fused graph."""
    import shutil

    monkeypatch.setenv("FASTRERANK_HOME", str(tmp_path / "home"))
    source = tiny_models["bert-2"]
    graph = fusion.fused_copy(source / "model.onnx", json.loads((source / "config.json").read_text()))
    assert graph is not None
    out = tmp_path / "fused"
    shutil.copytree(source, out)
    shutil.copyfile(graph, out / "model.onnx")
    return out


def _batches(model: Path) -> list[dict[str, np.ndarray]]:
    from fastrerank.bench.systems import one_window_rows

    ids, mask, types, _ = one_window_rows(Reranker(model, token_cache_bytes=0), "what is the capital", DOCUMENTS, 1 << 20).batch(0)
    return [{"input_ids": ids, "attention_mask": mask, "token_type_ids": types}]


def test_smoothing_keeps_the_fp32_function_and_moves_the_range(fused, tmp_path):
    import onnx

    graph = onnx.load(str(fused / "model.onnx")).graph
    down = ffn_output_matmuls(graph)
    batches = _batches(fused)
    out = tmp_path / "smoothed"
    out.mkdir()
    for name in ("config.json", "tokenizer.json"):
        (out / name).write_bytes((fused / name).read_bytes())
    smoothquant.smooth(fused / "model.onnx", out / "model.onnx", down, batches, alpha=0.5)

    smoothed = onnx.load(str(out / "model.onnx")).graph
    muls = [n for n in smoothed.node if n.name.endswith("/smooth")]
    assert len(muls) == len(down) and all(n.op_type == "Mul" for n in muls)
    # each MatMul now reads its input through its Mul, and no node reads a tensor before it is made
    made = {i.name for i in smoothed.input} | {i.name for i in smoothed.initializer}
    for n in smoothed.node:
        assert all(not t or t in made for t in n.input), n.name
        made.update(n.output)
    # the activations' per-channel range is flatter after the scaling (the point of it)
    before = smoothquant.input_absmax(fused / "model.onnx", [n.input[0] for n in graph.node if n.name in down], batches)
    after = smoothquant.input_absmax(out / "model.onnx", [m.output[0] for m in muls], batches)
    spread = [float(v.max() / np.median(v)) for v in before.values()]
    flatter = [float(v.max() / np.median(v)) for v in after.values()]
    assert np.mean(flatter) < np.mean(spread)

    a = Reranker(fused, normalize="none").rerank("what is the capital", DOCUMENTS)
    b = Reranker(out, normalize="none").rerank("what is the capital", DOCUMENTS)
    x = np.array([r.relevance_score for r in sorted(a.results, key=lambda r: r.index)])
    y = np.array([r.relevance_score for r in sorted(b.results, key=lambda r: r.index)])
    assert np.abs(x - y).max() <= FP32_TOLERANCE


def test_smoothing_needs_a_calibration_batch_and_constant_weights(fused, tmp_path):
    import onnx

    graph = onnx.load(str(fused / "model.onnx")).graph
    down = ffn_output_matmuls(graph)
    with pytest.raises(ValueError, match="calibration batch"):
        smoothquant.smooth(fused / "model.onnx", tmp_path / "x.onnx", down, [])
    layer_norm = next(n.name for n in graph.node if "LayerNormalization" in n.op_type)
    with pytest.raises(ValueError, match="no constant weight"):
        smoothquant.smooth(fused / "model.onnx", tmp_path / "x.onnx", [layer_norm], _batches(fused))
