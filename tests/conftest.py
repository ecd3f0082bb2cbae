"""Shared fixtures: test models built at test time into a git-ignored cache (.cache/)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "models"))
CACHE = ROOT / ".cache" / "test-models"
# the framework tests run in their own virtualenv, through tests/test_integrations.py
collect_ignore = ["integrations"]
# fastrerank's own cache (fused copies of the test models, exports) stays in the git-ignored cache
os.environ.setdefault("FASTRERANK_HOME", str(ROOT / ".cache" / "fastrerank-home"))


def _key(*files: Path) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.read_bytes())
    for dist in ("torch", "transformers", "tokenizers", "onnx"):
        h.update(importlib.metadata.version(dist).encode())
    return h.hexdigest()[:16]


@pytest.fixture(scope="session")
def tiny_models() -> dict[str, Path]:
    """Tiny random cross-encoders: bert-1 (1 logit), bert-2 (2 logits), xlmr (1 logit, 64-token
    window), modernbert and deberta (1 logit, 128-token window)."""
    import tiny_models as builders

    import fastrerank.export

    root = CACHE / f"tiny-{_key(Path(builders.__file__), Path(fastrerank.export.__file__))}"
    names = ("bert-1", "bert-2", "xlmr", "modernbert", "deberta")
    if not (root / "complete").is_file():
        shutil.rmtree(root, ignore_errors=True)
        builders.build_all(root)
        (root / "complete").touch()
    return {name: root / name for name in names}


@pytest.fixture(scope="session")
def minilm() -> Path:
    """The real-size MiniLM-L6 cross-encoder test model (see models/minilm_test_model.py)."""
    import minilm_test_model

    return minilm_test_model.build()


@pytest.fixture
def installed_too(tmp_path):
    """``installed_too(name=version, ...)``: an environment for a child process in which these
    distributions are installed as well (dist-info folders first on its sys.path, found by
    importlib.metadata itself)."""
    import os

    def env(**versions: str) -> dict[str, str]:
        for name, version in versions.items():
            info = tmp_path / "site" / f"{name.replace('-', '_')}-{version}.dist-info"
            info.mkdir(parents=True)
            (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        return dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "site"), os.environ.get("PYTHONPATH", "")]))

    return env
