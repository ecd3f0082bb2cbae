"""The model registry and name resolution: local dir -> export cache -> Hugging Face cache ->
download (with huggingface_hub, faked here: no machine that runs this reaches the Hub)."""

from __future__ import annotations

import shutil
import sys
import types
from pathlib import Path

import pytest

from fastrerank import Reranker, hub, registry
from fastrerank.cli import main
from fastrerank.models import ModelNotAvailableError, resolve

NAME = "cross-encoder/ms-marco-MiniLM-L-6-v2"
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
        "cross-encoder/ms-marco-MiniLM-L-6-v2",
        "cross-encoder/ms-marco-TinyBERT-L-2-v2",
        "cross-encoder/ms-marco-MiniLM-L-12-v2",
        "BAAI/bge-reranker-base",
        "BAAI/bge-reranker-v2-m3",
        "jinaai/jina-reranker-v1-turbo-en",
        "mixedbread-ai/mxbai-rerank-xsmall-v1",
    ]:
        assert want in names
    assert registry.default_model() == NAME
    for e in registry.entries():
        assert e.license and e.max_length > 0 and e.logits in (1, 2) and e.revision
    assert registry.lookup(NAME.upper()) is not None
    assert registry.lookup("BAAI/bge-reranker-base").onnx_file("fp32") is None
    assert registry.lookup(NAME).onnx_file("int8").endswith(".onnx")


def test_registry_is_packaged_with_the_wheel():
    import fastrerank

    assert (Path(fastrerank.__file__).parent / "registry.json").is_file()


def test_models_command(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert NAME in out and "(default)" in out and "export" in out


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
    with pytest.raises(ModelNotAvailableError, match="fastrerank download BAAI/bge-reranker-base"):
        Reranker("BAAI/bge-reranker-base")


def test_unknown_names_and_paths(caches):
    with pytest.raises(FileNotFoundError, match="not a directory and not a model name"):
        resolve("no-slash-name")
    with pytest.raises(FileNotFoundError, match="not a directory and not a model name"):
        resolve("/abs/path/that/does/not/exist")


def test_download_uses_huggingface_hub(caches, monkeypatch, tiny_models):
    calls = []

    def snapshot_download(repo_id, revision, allow_patterns, cache_dir):
        calls.append((repo_id, revision, list(allow_patterns), cache_dir))
        files = {
            f: {"onnx/model.onnx": "model.onnx"}.get(f, f)
            for f in allow_patterns
            if (tiny_models["bert-1"] / {"onnx/model.onnx": "model.onnx"}.get(f, f)).is_file()
        }
        return str(populate_snapshot(tiny_models["bert-1"], repo_id, files))

    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(snapshot_download=snapshot_download))
    rr = Reranker(NAME)
    assert len(rr.rerank("q", ["a"]).results) == 1
    ((repo, revision, patterns, cache_dir),) = calls
    assert repo == NAME and revision == "main" and "onnx/model.onnx" in patterns and "tokenizer.json" in patterns
    assert cache_dir == str(hub.hub_cache_dir())
    Reranker(NAME)  # now cached: no second download
    assert len(calls) == 1


def test_download_failure_and_missing_hub_package(caches, monkeypatch):
    def failing(**kwargs):
        raise OSError("Name or service not known\nmore detail")

    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(snapshot_download=failing))
    with pytest.raises(ModelNotAvailableError, match="Downloading it failed: could not download .* Name or service not known$"):
        Reranker(NAME)
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(ModelNotAvailableError, match=r"pip install 'fastrerank\[hub\]'"):
        Reranker(NAME)


def test_download_command_for_a_repo_that_ships_onnx(caches, monkeypatch, tiny_models, capsys):
    def snapshot_download(repo_id, revision, allow_patterns, cache_dir):
        files = {
            f: "model.onnx" if f.endswith(".onnx") else f
            for f in allow_patterns
            if (tiny_models["bert-1"] / ("model.onnx" if f.endswith(".onnx") else f)).is_file()
        }
        return str(populate_snapshot(tiny_models["bert-1"], repo_id, files))

    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(snapshot_download=snapshot_download))
    assert main(["download", NAME, "--precision", "fp32", "--precision", "int8"]) == 0
    assert COMMIT in capsys.readouterr().out
    assert resolve(NAME, "int8", allow_download=False).onnx.name.endswith(".onnx")
