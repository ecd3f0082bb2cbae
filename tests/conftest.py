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
    """Tiny random cross-encoders: bert-1 (1 logit), bert-2 (2 logits), xlmr (1 logit, 64-token window)."""
    import tiny_models as builders

    import fastrerank.export

    root = CACHE / f"tiny-{_key(Path(builders.__file__), Path(fastrerank.export.__file__))}"
    names = ("bert-1", "bert-2", "xlmr")
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
