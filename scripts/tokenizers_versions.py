"""Runs the fast path's differential tests (tests/test_wordpiece.py) against other `tokenizers`
releases, to decide whether tokenization.TOKENIZERS_TESTED may cover them.

    python scripts/tokenizers_versions.py 0.20.0 0.20.3 0.21.0 0.21.4 0.22.0 0.22.2 0.23.1

Each release is pip-installed (--no-deps) into a temporary directory put first on the path of a
child process, which widens the version gate and keys the test-model cache as for the
installed release (the test models are built with the installed `tokenizers`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import importlib.metadata as md, sys
installed = sys.argv[2]  # the venv's release: the test models were built with it
import tokenizers  # the release under test, first on the path
real = md.version
md.version = lambda dist: installed if dist == "tokenizers" else real(dist)
import fastrerank.tokenization as t
t.TOKENIZERS_TESTED = ((0, 0), (0, 99))  # any release up to the fake 0.99 a test uses
import pytest
print("tokenizers", tokenizers.__version__, "from", tokenizers.__file__, flush=True)
sys.exit(pytest.main([sys.argv[1], "-q", "-s", "-p", "no:cacheprovider", "-k", "not installed_tokenizers"]))
"""


def main(versions: list[str]) -> int:
    from importlib.metadata import version as installed_version

    installed = installed_version("tokenizers")
    failed = []
    for version in versions:
        with tempfile.TemporaryDirectory() as target:
            subprocess.run(
                [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", target, f"tokenizers=={version}"], check=True
            )
            code = subprocess.call(
                [sys.executable, "-c", CHILD, str(ROOT / "tests" / "test_wordpiece.py"), installed],
                env={**os.environ, "PYTHONPATH": target},
                cwd=ROOT,
            )
            print(f"tokenizers {version}: {'ok' if code == 0 else 'FAILED'}", flush=True)
            if code:
                failed.append(version)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
