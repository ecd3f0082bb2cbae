"""The public API is typed: py.typed and the _core stub ship, and mypy passes on the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import fastrerank


def test_marker_and_stub_ship():
    root = Path(fastrerank.__file__).parent
    assert (root / "py.typed").is_file()
    stub = (root / "_core.pyi").read_text()
    for name in ("def pack(", "def plan_documents(", "class PairTemplate", "class PackPlan", "NO_LIMIT"):
        assert name in stub


def test_public_names_have_docstrings():
    for name in fastrerank.__all__:
        obj = getattr(fastrerank, name)
        if callable(obj) or isinstance(obj, type):
            assert obj.__doc__, name
    for method in ("rerank", "arerank", "rerank_many", "score_pairs", "encode", "encode_request", "plan", "score_encoded", "stats"):
        assert getattr(fastrerank.Reranker, method).__doc__, method


def test_mypy_passes_on_the_package(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--ignore-missing-imports", "--cache-dir", str(tmp_path), "-p", "fastrerank"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr
