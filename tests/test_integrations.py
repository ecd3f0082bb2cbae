"""The framework tests (tests/integrations/: LangChain, LlamaIndex, Haystack and their own Cohere
and TEI clients against `fastrerank serve`) in their own virtualenv, on a tiny model built here."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_framework_suites_pass_in_their_own_virtualenv(tiny_models):
    env = {**os.environ, "FASTRERANK_TEST_MODEL": str(tiny_models["bert-1"]), "PYTHON": sys.executable}
    run = subprocess.run(
        ["bash", str(ROOT / "tests" / "integrations" / "run.sh"), "-q"], env=env, capture_output=True, text=True, timeout=1500
    )
    output = "\n".join(line for line in (run.stdout + run.stderr).splitlines() if not line.startswith("WARNING: Location"))
    assert run.returncode == 0, output[-20000:]
    assert " passed" in output and " skipped" not in output, output[-5000:]  # every framework installed and tested


@pytest.mark.parametrize(
    "module, framework, extra",
    [("langchain", "langchain_core", "langchain"), ("llama_index", "llama_index", "llama-index"), ("haystack", "haystack", "haystack")],
)
def test_an_adapter_without_its_framework_names_the_extra(monkeypatch, module, framework, extra):
    monkeypatch.setitem(sys.modules, framework, None)  # not installed
    monkeypatch.delitem(sys.modules, f"fastrerank.integrations.{module}", raising=False)
    with pytest.raises(ImportError, match=rf"pip install 'fastrerank\[{extra}\]'"):
        importlib.import_module(f"fastrerank.integrations.{module}")


def test_importing_fastrerank_imports_no_adapter():
    code = "import sys, fastrerank; print(sorted(m for m in sys.modules if m.startswith('fastrerank.integrations')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
