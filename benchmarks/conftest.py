import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# benchmarks share the tests' helpers (model builders, reference code)
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "models"))


@pytest.fixture(scope="session")
def minilm() -> Path:
    """The real-size MiniLM-L6 test model (built once into .cache/, shared with tests/)."""
    import minilm_test_model

    return minilm_test_model.build()


@pytest.fixture(scope="session")
def null_model(minilm, tmp_path_factory) -> Path:
    """MiniLM's tokenizer and config over a graph that does almost nothing: the host pipeline."""
    from fastrerank.bench.null_model import build

    return build(minilm, tmp_path_factory.mktemp("null-model"))
