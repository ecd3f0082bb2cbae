import sys
from pathlib import Path

# benchmarks share the tests' helpers (model builders, reference code)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
