"""The fused copy of an fp32 graph: made once per model file, used only when exact."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from fastrerank import Reranker, fusion
from fastrerank.export import FP32_TOLERANCE

from texts import DOCUMENTS


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTRERANK_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _config(model):
    return json.loads((model / "config.json").read_text())


@pytest.mark.parametrize("name", ["bert-1", "xlmr"])
def test_fused_copy_is_made_once_and_exact(tiny_models, home, name):
    model = tiny_models[name] / "model.onnx"
    fused = fusion.fused_copy(model, _config(tiny_models[name]))
    assert fused is not None and fused.is_relative_to(home / "fused") and fusion.is_fused(fused)
    verdict = json.loads((fused.parent / fusion.VERDICT).read_text())
    assert verdict["use"] and verdict["max_abs_logit_diff"] <= fusion.FUSED_TOLERANCE
    made = fused.stat().st_mtime_ns
    assert fusion.fused_copy(model, _config(tiny_models[name])) == fused and fused.stat().st_mtime_ns == made


def test_reranker_runs_the_fused_copy_with_the_same_scores(tiny_models, home):
    query = "what is the capital"
    fusing = Reranker(tiny_models["bert-2"], normalize="none", fuse=True)
    not_fusing = Reranker(tiny_models["bert-2"], normalize="none", fuse=False)
    assert fusing.model_file == not_fusing.model_file == not_fusing.session_file == tiny_models["bert-2"] / "model.onnx"
    assert fusing.session_file.parent.parent == home / "fused"
    fused, plain = fusing.rerank(query, DOCUMENTS), not_fusing.rerank(query, DOCUMENTS)
    assert [r.index for r in fused.results] == [r.index for r in plain.results]
    a = np.array([r.relevance_score for r in fused.results])
    b = np.array([r.relevance_score for r in plain.results])
    # the probe batch is held to FUSED_TOLERANCE; longer real rows to the fidelity bar
    assert np.abs(a - b).max() <= FP32_TOLERANCE
    assert len(list((home / "fused").glob("*/model.onnx"))) == 1  # fuse=False made nothing
    Reranker(tiny_models["bert-1"])
    assert len(list((home / "fused").glob("*/model.onnx"))) == 1  # nor does the default


def test_a_copy_off_by_more_than_the_tolerance_is_not_used(tiny_models, home, monkeypatch):
    monkeypatch.setattr(fusion, "_max_logit_difference", lambda *a: 10 * fusion.FUSED_TOLERANCE)
    model = tiny_models["bert-1"] / "model.onnx"
    assert fusion.fused_copy(model, _config(tiny_models["bert-1"])) is None
    monkeypatch.undo()  # the verdict is remembered: not retried for the same file
    monkeypatch.setenv("FASTRERANK_HOME", str(home))
    assert fusion.fused_copy(model, _config(tiny_models["bert-1"])) is None


def test_an_already_fused_graph_runs_as_it_is(tiny_models, home, tmp_path):
    from fastrerank.export import optimize_graph

    model = tmp_path / "model.onnx"
    shutil.copyfile(tiny_models["bert-1"] / "model.onnx", model)
    optimize_graph(model, _config(tiny_models["bert-1"]))
    assert fusion.is_fused(model) and fusion.fused_copy(model, _config(tiny_models["bert-1"])) is None


def test_fuse_must_be_a_bool(tiny_models):
    with pytest.raises(TypeError, match="fuse"):
        Reranker(tiny_models["bert-1"], fuse="yes")  # type: ignore[arg-type]
