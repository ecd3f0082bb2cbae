"""fastrerank's Hub path through the real ``huggingface_hub`` client, against a local Hub
(tests/localhub.py) serving repos laid out as the real ones are, made of the tiny test models.

Each load runs in a child process whose environment points ``huggingface_hub`` at the local Hub
before it is imported (it reads HF_ENDPOINT and HF_HUB_OFFLINE once, at import); nothing is
patched. The Hub's request log says what was asked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fastrerank import Reranker
from fastrerank.cpu import cpu_isa

from localhub import LocalHub, files_of

NEW = "cross-encoder/ms-marco-MiniLM-L6-v2"
OLD = "cross-encoder/ms-marco-MiniLM-L-6-v2"
LARGE = "BAAI/bge-reranker-large"  # onnx/model.onnx + onnx/model.onnx_data
OTHER = "someone/unregistered-reranker"  # not in the registry: the usual names are looked for
OTHER_OLD = "someone/old-reranker"  # renamed to OTHER on the Hub, unknown to fastrerank
INT8_FILES = {
    "avx512_vnni": "onnx/model_qint8_avx512_vnni.onnx",
    "avx512": "onnx/model_qint8_avx512.onnx",
    "avx2": "onnx/model_quint8_avx2.onnx",
    "arm64": "onnx/model_qint8_arm64.onnx",
}
QUERY = "capital of the United States"
DOCS = ["Washington, D.C. is the capital of the United States.", "Carson City is in Nevada.", "The quick brown fox.", ""]

# Runs each call (Reranker or the command line) in one process; prints one JSON line per call.
CHILD = textwrap.dedent(
    """
    import contextlib, io, json, sys
    from fastrerank import Reranker
    from fastrerank.cli import main

    out = []
    for call in json.loads(sys.argv[1]):
        try:
            if call.get("op") == "cli":
                buf = io.StringIO()
                with contextlib.redirect_stdout(buf):
                    status = main(call["argv"])
                out.append({"status": status, "stdout": buf.getvalue()})
                continue
            rr = Reranker(call["model"], precision=call.get("precision", "fp32"))
            scores = {r.index: r.relevance_score for r in rr.rerank(call["query"], call["docs"]).results}
            out.append({"model_file": str(rr.model_file), "scores": [scores[i] for i in range(len(call["docs"]))]})
        except Exception as e:
            out.append({"error": type(e).__name__, "message": str(e)})
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def hub(tiny_models, tmp_path_factory):
    """The local Hub with NEW (its former id redirecting), LARGE and OTHER (its former id
    redirecting), laid out as the Hub has them."""
    from onnx import load, save_model

    from fastrerank.export import quantize_int8

    root = tmp_path_factory.mktemp("repos")
    bert, xlmr = tiny_models["bert-1"], tiny_models["xlmr"]
    quantize_int8(bert / "model.onnx", root / "int8.onnx", reduce_range=False)
    external = root / "external"
    (external / "onnx").mkdir(parents=True)
    save_model(
        load(str(xlmr / "model.onnx")),
        str(external / "onnx" / "model.onnx"),
        save_as_external_data=True,
        location="model.onnx_data",
        size_threshold=0,
    )

    ms_marco = files_of(bert, {"model.onnx": "onnx/model.onnx"})
    ms_marco |= {f"onnx/model_O{i}.onnx": bert / "model.onnx" for i in range(1, 5)}
    ms_marco |= {name: root / "int8.onnx" for name in INT8_FILES.values()}
    with_external = {p: f for p, f in files_of(xlmr).items() if p != "model.onnx"} | files_of(external)
    with LocalHub() as h:
        h.add_repo(NEW, ms_marco)
        h.add_redirect(OLD, NEW)
        h.add_repo(LARGE, with_external)
        h.add_repo(OTHER, with_external)
        h.add_redirect(OTHER_OLD, OTHER)
        yield h


def run(hub: LocalHub, home: Path, *calls: dict, offline: bool = False, endpoint: str | None = None) -> list[dict]:
    """The calls in one child process pointed at ``hub``, with caches under ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_")) and k != "TRANSFORMERS_OFFLINE"}
    env |= {
        "HF_ENDPOINT": endpoint or hub.url,
        "HF_HOME": str(home / "hf"),
        "FASTRERANK_HOME": str(home / "fastrerank"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    calls = tuple({"query": QUERY, "docs": DOCS} | c for c in calls)
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(calls)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    for call, result in zip(calls, results):
        assert ("error" in result) == call.get("fails", False), (call, result)
    return results


def local_scores(model_dir: Path) -> list[float]:
    results = Reranker(model_dir).rerank(QUERY, DOCS).results
    return [s for _, s in sorted((r.index, r.relevance_score) for r in results)]


def fetched(hub: LocalHub) -> set[str]:
    """The repo files asked for (the client asks /resolve/ for each; LFS bodies then come from the CDN)."""
    return {p.split("/resolve/", 1)[1].split("/", 1)[1] for _, p in hub.requests if "/resolve/" in p}


def test_current_and_former_name_give_the_same_files_and_a_second_load_asks_nothing(hub, tmp_path, tiny_models):
    hub.clear_log()
    [first] = run(hub, tmp_path, {"model": NEW})
    assert first["scores"] == pytest.approx(local_scores(tiny_models["bert-1"]), abs=1e-6)
    assert fetched(hub) >= {"onnx/model.onnx", "config.json", "tokenizer.json"}
    assert not fetched(hub) & {"onnx/model_O4.onnx", *INT8_FILES.values(), "model.safetensors"}  # only what fp32 needs
    assert all(OLD not in p for _, p in hub.requests)

    hub.clear_log()
    former, again = run(hub, tmp_path, {"model": OLD}, {"model": NEW})
    assert hub.requests == []  # the former id is the current one before the Hub is asked; the cache has it
    assert former["model_file"] == again["model_file"] == first["model_file"]
    assert Path(first["model_file"]).parent.parent.parent.name == "snapshots"


def test_int8_takes_the_file_for_this_cpu(hub, tmp_path):
    hub.clear_log()
    [loaded] = run(hub, tmp_path, {"model": OLD, "precision": "int8"})
    want = INT8_FILES[cpu_isa()]
    assert loaded["model_file"].endswith(want)
    assert fetched(hub) & set(INT8_FILES.values()) == {want}


def test_external_data_arrives_with_its_graph_and_loads(hub, tmp_path, tiny_models):
    hub.clear_log()
    registered, unregistered, renamed = run(hub, tmp_path, {"model": LARGE}, {"model": OTHER}, {"model": OTHER_OLD})
    want = local_scores(tiny_models["xlmr"])
    for loaded in (registered, unregistered, renamed):
        assert loaded["scores"] == pytest.approx(want, abs=1e-6), loaded
        graph = Path(loaded["model_file"])
        assert graph.name == "model.onnx" and graph.is_symlink()  # opened where the snapshot has it
        assert (graph.parent / "model.onnx_data").is_file()
    assert {"onnx/model.onnx", "onnx/model.onnx_data"} <= fetched(hub)
    # an unregistered renamed repo: the Hub's redirect, followed by huggingface_hub itself
    assert any(p.startswith(f"/api/models/{OTHER_OLD}/") for _, p in hub.requests)


def test_missing_repo_and_missing_precision_say_what_to_do(hub, tmp_path):
    hub.clear_log()
    nothing, no_int8, registered_no_int8 = run(
        hub,
        tmp_path,
        {"model": "nobody/nothing", "fails": True},
        {"model": OTHER, "precision": "int8", "fails": True},
        {"model": LARGE, "precision": "int8", "fails": True},
    )
    assert nothing["error"] == "ModelNotAvailableError"
    assert "there is no model 'nobody/nothing' on the Hugging Face Hub" in nothing["message"]
    assert "check the name" in nothing["message"] and "hf auth login" in nothing["message"]
    assert no_int8["error"] == "ModelNotAvailableError"
    assert "has no int8 ONNX file: looked for model_int8.onnx, onnx/model_int8.onnx, onnx/model_quantized.onnx" in no_int8["message"]
    assert f"fastrerank download {OTHER} --precision int8" in no_int8["message"]
    assert registered_no_int8["error"] == "ModelNotAvailableError"
    assert f"fastrerank download {LARGE} --precision int8" in registered_no_int8["message"]
    assert all(LARGE not in p for _, p in hub.requests)  # the registry knew: the Hub was not asked


def test_offline_uses_the_cache_and_says_what_to_do_without_it(hub, tmp_path):
    run(hub, tmp_path / "warm", {"model": NEW})
    hub.clear_log()
    [cached] = run(hub, tmp_path / "warm", {"model": NEW}, offline=True)
    [cold] = run(hub, tmp_path / "cold", {"model": NEW, "fails": True}, offline=True)
    assert hub.requests == []
    assert "scores" in cached
    assert cold["error"] == "ModelNotAvailableError"
    for advice in (f"fastrerank download {NEW}", "local model directory", "HF_HOME"):
        assert advice in cold["message"]


def test_download_command_then_offline(hub, tmp_path):
    [download] = run(hub, tmp_path, {"op": "cli", "argv": ["download", OLD, "--precision", "fp32", "--precision", "int8"]})
    assert download["status"] == 0 and INT8_FILES[cpu_isa()] in download["stdout"]
    hub.clear_log()
    [loaded] = run(hub, tmp_path, {"model": NEW, "precision": "int8"}, offline=True)
    assert loaded["model_file"].endswith(INT8_FILES[cpu_isa()]) and hub.requests == []


def test_unreachable_hub_says_so(hub, tmp_path):
    with LocalHub() as closed:
        endpoint = closed.url
    [failed] = run(hub, tmp_path, {"model": NEW, "fails": True}, endpoint=endpoint)
    assert failed["error"] == "ModelNotAvailableError"
    assert failed["message"].startswith(f"could not download {NEW} (revision main) from the Hugging Face Hub")
    assert "is not on this machine" in failed["message"]


def test_cache_made_under_a_former_id_is_found(hub, tmp_path):
    """A cache filled by a tool that used the former id (huggingface_hub keys folders by the id asked for)."""
    run(hub, tmp_path, {"model": NEW})
    cache = tmp_path / "hf" / "hub"
    shutil.move(cache / f"models--{NEW.replace('/', '--')}", cache / f"models--{OLD.replace('/', '--')}")
    hub.clear_log()
    [loaded] = run(hub, tmp_path, {"model": NEW}, offline=True)
    assert "scores" in loaded and OLD.replace("/", "--") in loaded["model_file"] and hub.requests == []
