"""fastrerank export: fused graph, int8 and fp16 files, the probe measurements and manifest."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fastrerank import Reranker, export
from fastrerank.cli import main


@pytest.fixture(scope="module")
def exported_bert(tiny_models, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "bert"
    manifest = export.export(tiny_models["bert-1"], out, precisions=["int8", "fp16"], optimize=True)
    return out, manifest


def test_export_writes_every_file_and_manifest(exported_bert):
    out, manifest = exported_bert
    for name in ("model.onnx", "model_int8.onnx", "model_fp16.onnx", "tokenizer.json", "config.json", "fastrerank-export.json"):
        assert (out / name).is_file(), name
    on_disk = json.loads((out / "fastrerank-export.json").read_text())
    assert on_disk == json.loads(json.dumps(manifest))
    assert set(on_disk["files"]) == {"model.onnx", "model_int8.onnx", "model_fp16.onnx"}
    assert all(len(f["sha256"]) == 64 for f in on_disk["files"].values())


def test_optimize_fuses_the_bert_graph(exported_bert):
    _, manifest = exported_bert
    fused = manifest["fused_nodes"]
    assert fused.get("Attention", 0) == 2  # one per layer of the tiny model
    assert fused.get("SkipLayerNormalization", 0) >= 2
    assert fused.get("EmbedLayerNormalization", 0) == 1


def test_probe_agreement_is_measured(exported_bert):
    _, manifest = exported_bert
    probe = manifest["probe"]
    assert probe["fp32"]["measured"] and probe["fp32"]["max_abs_diff"] <= export.FP32_TOLERANCE
    assert probe["fp32"]["spearman"] > 0.9999 and probe["fp32"]["top10_overlap"] == 1.0
    for p in ("int8", "fp16"):
        assert probe[p]["measured"], probe[p]
        assert 0 < probe[p]["max_abs_diff"] <= 1  # the tiny random model is very sensitive to int8
    # fp16 keeps the order; int8 on this tiny random model moves it, but stays well correlated
    assert probe["fp16"]["max_abs_diff"] < 5e-2 and probe["fp16"]["spearman"] > 0.98 and probe["fp16"]["top10_overlap"] >= 0.9
    assert probe["int8"]["spearman"] > 0.5 and probe["int8"]["top10_overlap"] > 0.5


def test_agreement_measures():
    a = np.array([0.9, 0.1, 0.5, 0.7, 0.3])
    assert export.spearman(a, a) == pytest.approx(1.0) and export.spearman(a, -a) == pytest.approx(-1.0)
    assert export.spearman(a, np.array([0.9, 0.3, 0.5, 0.7, 0.1])) == pytest.approx(0.9)  # two neighbours swapped
    assert export.top_k_overlap(a, a, k=2) == 1.0
    assert export.top_k_overlap(a, np.array([0.1, 0.9, 0.5, 0.7, 0.3]), k=2) == 0.5  # {0, 3} vs {1, 3}
    assert export.top_k_overlap(np.zeros(3), np.zeros(3), k=10) == 1.0  # ties: lower index, k past the list


def test_int8_keeps_embeddings_head_and_early_ffn_outputs_in_fp32(exported_bert):
    import onnx

    out, manifest = exported_bert
    fp32 = onnx.load(str(out / "model.onnx")).graph  # the fused graph (optimize=True)
    down, head = export.ffn_output_matmuls(fp32), export.head_matmuls(fp32)
    assert len(down) == 2 and len(head) == 4  # one FFN down-projection per layer; pooler and classifier Gemms, two names each
    quantised = manifest["int8"]["quantised_down_projections"]
    assert quantised == ([] if manifest["int8"]["reduce_range"] else down[-export.INT8_DOWN_LAYERS :])
    early = [n for n in down if n not in quantised]
    assert manifest["int8"]["kept_fp32"] == ["embeddings", *early, *head]
    int8 = onnx.load(str(out / "model_int8.onnx")).graph
    ops = {n.name: n.op_type for n in int8.node}
    assert all(ops.get(name) == "MatMul" for name in early)  # still float MatMuls
    assert not any(ops.get(name) == "MatMul" for name in quantised)  # quantised: the float node is gone
    assert any(t in ops.values() for t in ("MatMulInteger", "QAttention", "DynamicQuantizeMatMul"))
    assert "EmbedLayerNormalization" in ops.values() and "QEmbedLayerNormalization" not in ops.values()
    # the head (pooler, classifier) stays float: nothing quantised after the last layer norm
    last_norm = max(i for i, n in enumerate(int8.node) if "LayerNormalization" in n.op_type)
    assert not {n.op_type for n in int8.node[last_norm + 1 :]} & {"MatMulInteger", "DynamicQuantizeMatMul", "DynamicQuantizeLinear"}


def test_int8_down_layers_count_from_the_last_layer(exported_bert, tmp_path, monkeypatch):
    import onnx

    out, _ = exported_bert
    down = export.ffn_output_matmuls(onnx.load(str(out / "model.onnx")).graph)

    def float_matmuls(path):
        return {n.name for n in onnx.load(str(path)).graph.node if n.op_type == "MatMul"} & set(down)

    monkeypatch.setattr(export, "INT8_DOWN_LAYERS", 1)
    kept = export.quantize_int8(out / "model.onnx", tmp_path / "one.onnx", reduce_range=False)
    assert [n for n in kept if n in down] == down[:1] and float_matmuls(tmp_path / "one.onnx") == {down[0]}
    export.quantize_int8(out / "model.onnx", tmp_path / "seven-bit.onnx", reduce_range=True)
    assert float_matmuls(tmp_path / "seven-bit.onnx") == set(down)  # measured on VNNI only: all fp32 without it
    monkeypatch.setattr(export, "INT8_DOWN_LAYERS", 0)
    export.quantize_int8(out / "model.onnx", tmp_path / "none.onnx", reduce_range=False)
    assert float_matmuls(tmp_path / "none.onnx") == set(down)
    with pytest.raises(TypeError, match="sequence of node names"):
        export.quantize_int8(out / "model.onnx", tmp_path / "x.onnx", reduce_range=False, keep=down[0])


def test_int8_is_quantised_from_the_fused_graph_without_optimize(tiny_models, tmp_path):
    import onnx

    out = tmp_path / "plain"
    manifest = export.export(tiny_models["bert-1"], out, precisions=["int8"])
    ops = {n.op_type for n in onnx.load(str(out / "model_int8.onnx")).graph.node}
    assert "QAttention" in ops and "EmbedLayerNormalization" in ops  # the fused int8 kernels run
    assert "Attention" not in {n.op_type for n in onnx.load(str(out / "model.onnx")).graph.node}  # fp32 file as traced
    assert manifest["int8"]["from"] == "fused graph" and sorted(p.name for p in out.iterdir() if p.name.startswith("tmp")) == []


def test_precisions_load_their_files(exported_bert):
    out, _ = exported_bert
    docs = ["alpha beta", "the capital of france", "gamma"]
    base = Reranker(out).rerank("capital", docs)
    for precision in ("int8", "fp16"):
        rr = Reranker(out, precision=precision)
        assert rr.model_file.name == f"model_{precision}.onnx"
        got = rr.rerank("capital", docs)
        a = np.array([r.relevance_score for r in sorted(base.results, key=lambda r: r.index)])
        b = np.array([r.relevance_score for r in sorted(got.results, key=lambda r: r.index)])
        assert np.abs(a - b).max() < 1.0 and not np.array_equal(a, b)


def test_xlmr_export_and_cli(tiny_models, tmp_path, capsys):
    out = tmp_path / "xlmr"
    assert main(["export", str(tiny_models["xlmr"]), str(out), "--optimize"]) == 0
    printed = capsys.readouterr().out
    assert "fp32: max |diff|" in printed and "fused nodes" in printed
    manifest = json.loads((out / "fastrerank-export.json").read_text())
    assert manifest["probe"]["fp32"]["max_abs_diff"] <= export.FP32_TOLERANCE
    assert Reranker(out).max_length == 64


def test_a_bad_export_fails_loudly(tiny_models, tmp_path, monkeypatch):
    real = export.measure

    def skewed(out, precision, reference, pairs):
        result = real(out, precision, reference, pairs)
        result["max_abs_diff"] = 0.5
        return result

    monkeypatch.setattr(export, "measure", skewed)
    with pytest.raises(export.ExportError, match="does not reproduce the source"):
        export.export(tiny_models["bert-1"], tmp_path / "bad")
    assert (tmp_path / "bad" / "fastrerank-export.json").is_file()


def test_rank_metrics():
    a = np.array([0.1, 0.9, 0.5, 0.3])
    assert export.spearman(a, a) == pytest.approx(1.0)
    assert export.spearman(a, -a) == pytest.approx(-1.0)
    assert export.top_k_overlap(a, a, k=2) == 1.0
    assert export.top_k_overlap(a, np.array([0.1, 0.9, 0.3, 0.5]), k=2) == 0.5
    assert export.top_k_overlap(a, np.array([0.9, 0.1, 0.3, 0.5]), k=2) == 0.0
