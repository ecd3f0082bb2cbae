"""The benchmark harness runs end to end (on a tiny model: the numbers mean nothing here; the
real comparison is `fastrerank bench --compare` on the MiniLM-L6 test model)."""

from __future__ import annotations

import importlib.util
import json
from unittest import mock

from fastrerank.bench import compare, corpus
from fastrerank.bench.null_model import build as build_null
from fastrerank.cli import main


def test_workload_is_deterministic_and_mixed():
    a, b = corpus.make_workload(2, 50, seed=7), corpus.make_workload(2, 50, seed=7)
    assert a == b and a.pairs == 100
    words = [len(d.split()) for docs in a.documents for d in docs]
    assert min(words) <= 15 and max(words) >= 400


def test_short_workload_is_whole_paragraphs():
    a, b = corpus.make_short_workload(2, 30, seed=3), corpus.make_short_workload(2, 30, seed=3)
    assert a == b and a.pairs == 60
    pool = set(corpus.paragraphs())
    assert all(d in pool and len(d.split()) >= corpus.PARAGRAPH_MIN_WORDS for docs in a.documents for d in docs)
    assert all(len(set(docs)) == len(docs) for docs in a.documents)  # no paragraph twice for one query


def test_null_graph_scores_zero(tiny_models, tmp_path):
    from fastrerank import Reranker

    rr = Reranker(build_null(tiny_models["bert-1"], tmp_path / "null"), normalize="none")
    assert {r.relevance_score for r in rr.rerank("q", ["a b c", "", "d" * 50]).results} == {0.0}


def test_compare_runs_and_reports(tiny_models, tmp_path, capsys):
    out = tmp_path / "report"
    systems = "fastrerank fp32,fastrerank int8,onnxruntime loop,host pipeline (null graph),ceiling,flashrank"
    args = [
        "bench",
        "--model",
        str(tiny_models["bert-1"]),
        "--queries",
        "2",
        "--docs",
        "12",
        "--rounds",
        "2",
        "--no-sweep",
        "--memory-calls",
        "210",
        "--workdir",
        str(tmp_path / "wd"),
        "--out",
        str(out),
        "--systems",
        systems,
    ]
    assert main(args) == 0
    results = json.loads(out.with_suffix(".json").read_text())
    assert results["systems"]["fastrerank fp32"]["pairs_per_s"] > 0
    assert results["systems"]["onnxruntime loop"]["max_abs_diff_vs_fastrerank_fp32"] < 1e-4  # same model, same pairs
    # FlashRank lives in the peers' virtualenv (--peer-python): here it is reported as not loading
    flashrank = results["systems"]["flashrank"]
    if importlib.util.find_spec("flashrank") is None:
        assert "pairs_per_s" not in flashrank and "flashrank" in flashrank["error"]
    else:
        assert flashrank["pairs_per_s"] > 0
    assert results["ceiling"]["best_budget"] in (256, 512, 1024, 2048, 4096)
    short = results["workloads"]["short"]  # both workloads by default, each with its own ceiling
    assert short["systems"]["fastrerank fp32"]["pairs_per_s"] > 0 and short["ceilings"]["ceiling"]["pairs_per_s"] > 0
    assert 0 <= results["rows"]["padding_waste"] < 1
    assert results["host"]["cpu_batching"]["warm_pairs_per_s"] > 0 and results["host"]["gpu_batching"]["cold_pairs_per_s"] > 0
    assert len(results["memory"]["samples"]) >= 5
    report = out.with_suffix(".md").read_text()
    assert "| fastrerank fp32 |" in report and "zero-padding ceiling" in report
    assert "### Workload `mixed`" in report and "### Workload `short`" in report
    assert "fastrerank fp32" in capsys.readouterr().out
    assert [draw.__name__ for draw in compare.plot_panels(results)] == ["_plot_systems"]  # no sweep ran: no empty panels
    for draw in compare.plot_panels(results):  # each panel draws from what a run writes (on a stand-in Axes)
        draw(mock.MagicMock(), results)
    sweep = {"docs": {"10": {}}, "threads": {"1": {}}, "overhead": {}}
    assert len(compare.plot_panels(results | {"sweep": sweep})) == 4


def test_one_off_rows_run_only_when_named(tmp_path):
    import argparse

    from fastrerank.bench import options, systems

    assert systems.EXPLICIT_ONLY and not set(systems.EXPLICIT_ONLY) & set(options.default_systems())
    assert set(options.default_systems()) | set(systems.EXPLICIT_ONLY) == {*systems.SYSTEMS, *systems.CEILINGS}
    (tmp_path / "model.onnx").write_bytes(b"")
    p = argparse.ArgumentParser()
    options.add_arguments(p)
    named = options.options_from(p.parse_args(["--model", str(tmp_path), "--systems", systems.EXPLICIT_ONLY[0]]))
    assert named.systems == [systems.EXPLICIT_ONLY[0]]
    assert options.options_from(p.parse_args(["--model", str(tmp_path)])).systems == options.default_systems()
