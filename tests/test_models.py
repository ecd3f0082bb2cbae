"""The model registry and name resolution: local dir -> export cache -> Hugging Face cache.
Downloads, through huggingface_hub and a local Hub: tests/test_hub.py."""

from __future__ import annotations

import dataclasses
import shutil
import sys
from pathlib import Path

import pytest

from fastrerank import Reranker, hub, registry
from fastrerank.cli import main
from fastrerank.models import ModelNotAvailableError, resolve

NAME = "cross-encoder/ms-marco-MiniLM-L6-v2"
OLD_NAME = "cross-encoder/ms-marco-MiniLM-L-6-v2"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def caches(tmp_path, monkeypatch):
    """Empty, private Hugging Face and fastrerank caches."""
    for var in ("HF_HUB_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("FASTRERANK_HOME", str(tmp_path / "fr"))
    return tmp_path


def populate_snapshot(model_dir: Path, repo: str, files: dict[str, str], commit: str = COMMIT, ref: str = "main") -> Path:
    """Lays out a Hugging Face cache snapshot: refs/<ref> -> commit, snapshots/<commit>/<files>."""
    root = hub.hub_cache_dir() / f"models--{repo.replace('/', '--')}"
    snapshot = root / "snapshots" / commit
    for dest, src in files.items():
        (snapshot / dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(model_dir / src, snapshot / dest)
    (root / "refs").mkdir(parents=True, exist_ok=True)
    (root / "refs" / ref).write_text(commit)
    return snapshot


def test_registry_lists_the_issue_models():
    names = [e.name for e in registry.entries()]
    for want in [
        "cross-encoder/ms-marco-MiniLM-L6-v2",
        "cross-encoder/ms-marco-MiniLM-L12-v2",
        "cross-encoder/ms-marco-MiniLM-L4-v2",
        "cross-encoder/ms-marco-MiniLM-L2-v2",
        "cross-encoder/ms-marco-TinyBERT-L2-v2",
        "BAAI/bge-reranker-base",
        "BAAI/bge-reranker-large",
        "BAAI/bge-reranker-v2-m3",
        "jinaai/jina-reranker-v1-turbo-en",
        "jinaai/jina-reranker-v1-tiny-en",
        "mixedbread-ai/mxbai-rerank-xsmall-v1",
        "mixedbread-ai/mxbai-rerank-base-v1",
        "mixedbread-ai/mxbai-rerank-large-v1",
        "Alibaba-NLP/gte-reranker-modernbert-base",
    ]:
        assert want in names
    assert registry.default_model() == NAME and registry.lookup(NAME) is not None
    kinds = registry.architectures()
    for e in registry.entries():
        assert e.license and e.max_length > 0 and e.logits in (1, 2) and e.revision
        assert e.architecture in kinds
        for graph, data in e.external_data.items():
            assert graph in [e.onnx_file(p) for p in ("fp32", "fp16", "int8")] and data


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("cross-encoder/ms-marco-MiniLM-L-6-v2", "cross-encoder/ms-marco-MiniLM-L6-v2"),
        ("cross-encoder/ms-marco-MiniLM-L-12-v2", "cross-encoder/ms-marco-MiniLM-L12-v2"),
        ("cross-encoder/ms-marco-TinyBERT-L-2-v2", "cross-encoder/ms-marco-TinyBERT-L2-v2"),
    ],
)
def test_former_ids_are_aliases_of_the_current_name(old, new):
    assert old not in [e.name for e in registry.entries()]
    assert registry.lookup(old).name == new and registry.lookup(old.upper()).name == new


def test_registry_files_follow_the_hub_layout():
    assert registry.lookup("BAAI/bge-reranker-base").onnx_file("fp32") == "onnx/model.onnx"
    assert registry.lookup("BAAI/bge-reranker-large").onnx_files("fp32") == ["onnx/model.onnx", "onnx/model.onnx_data"]
    assert registry.lookup("jinaai/jina-reranker-v1-turbo-en").onnx_file("fp16") == "onnx/model_fp16.onnx"
    assert registry.lookup("BAAI/bge-reranker-v2-m3").onnx_files("int8") == []


@pytest.mark.parametrize(
    ("isa", "want"),
    [
        ("avx512_vnni", "onnx/model_qint8_avx512_vnni.onnx"),
        ("avx512", "onnx/model_qint8_avx512.onnx"),
        ("avx2", "onnx/model_quint8_avx2.onnx"),
        ("arm64", "onnx/model_qint8_arm64.onnx"),
    ],
)
def test_int8_file_follows_the_cpu(monkeypatch, isa, want):
    monkeypatch.setattr(registry, "cpu_isa", lambda: isa)
    assert registry.lookup(NAME).onnx_file("int8") == want
    # a repo without this CPU's file falls back to one it has (every file runs everywhere)
    partial = dataclasses.replace(registry.lookup(NAME), onnx={"int8": {"avx2": "a.onnx", "arm64": "b.onnx"}})
    assert partial.onnx_file("int8") == ("b.onnx" if isa == "arm64" else "a.onnx")


def test_registry_is_packaged_with_the_wheel():
    import fastrerank

    assert (Path(fastrerank.__file__).parent / "registry.json").is_file()


def test_models_command(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert NAME in out and "(default)" in out and "export" in out and f"was {OLD_NAME}" in out
    assert "cc-by-nc" not in out and "mit" in out and "apache-2.0" in out  # licenses are shown
    assert "jina-bert: not exercised here" in out


def test_name_resolves_from_a_prepopulated_hf_cache(caches, tiny_models):
    onnx = registry.lookup(NAME).onnx_file("fp32")
    populate_snapshot(tiny_models["bert-1"], NAME, {onnx: "model.onnx", "tokenizer.json": "tokenizer.json", "config.json": "config.json"})
    files = resolve(NAME, allow_download=False)
    assert files.directory.name == COMMIT and files.onnx.name == "model.onnx" and files.entry is not None
    rr = Reranker(NAME)
    assert len(rr.rerank("q", ["a", "b"]).results) == 2
    assert rr.max_length == 128  # the model's own window is smaller than the registry's 512
    # a revision given as a commit hash works without refs
    assert hub.hub_snapshot(NAME, COMMIT, ["config.json"]) is not None


def test_export_cache_wins_over_hf_cache(caches, tiny_models):
    shutil.copytree(tiny_models["bert-2"], hub.exported_dir(NAME))
    assert resolve(NAME).directory == hub.exported_dir(NAME)
    assert Reranker(NAME).num_logits == 2


def test_offline_and_not_cached_says_what_to_do(caches, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotAvailableError) as e:
        Reranker(NAME)
    msg = str(e.value)
    assert f"fastrerank download {NAME}" in msg and "fastrerank[hub]" in msg and "local model directory" in msg and "HF_HOME" in msg


def test_registry_model_without_onnx_points_at_download(caches):
    with pytest.raises(ModelNotAvailableError, match="fastrerank download BAAI/bge-reranker-v2-m3 --precision fp32"):
        Reranker("BAAI/bge-reranker-v2-m3")
    with pytest.raises(ModelNotAvailableError, match="fastrerank download BAAI/bge-reranker-base --precision int8"):
        Reranker("BAAI/bge-reranker-base", precision="int8")


def test_unknown_names_and_paths(caches):
    with pytest.raises(FileNotFoundError, match="not a directory and not a model name"):
        resolve("no-slash-name")
    with pytest.raises(FileNotFoundError, match="not a directory and not a model name"):
        resolve("/abs/path/that/does/not/exist")


def test_missing_hub_package_says_which_extra(caches, monkeypatch):
    """Downloading through huggingface_hub itself: tests/test_hub.py (a local Hub)."""
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(ModelNotAvailableError, match=r"pip install 'fastrerank\[hub\]'"):
        Reranker(NAME)
