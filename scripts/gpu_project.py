"""The fastrerank-gpu source tree: this checkout's files, with pyproject.toml's project named
fastrerank-gpu and depending on onnxruntime-gpu instead of onnxruntime (never both: they write
the same `onnxruntime` module folder). Everything else, the import package included, is the same.

Why a generated tree: a distribution's name cannot be dynamic metadata (PEP 621), and
scikit-build-core's overrides change only its own settings, so a second distribution needs a
second pyproject.toml; making it from the first keeps one source of truth.

    python scripts/gpu_project.py OUT_DIR     # OUT_DIR/ is then built like the checkout
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import tomllib  # CPython 3.11+

ROOT = Path(__file__).resolve().parent.parent
CPU_NAME, GPU_NAME = "fastrerank", "fastrerank-gpu"
CPU_RUNTIME, GPU_RUNTIME = "onnxruntime", "onnxruntime-gpu"


def requirement_name(requirement: str) -> str:
    """The distribution a requirement names (``onnxruntime>=1.17`` -> ``onnxruntime``)."""
    return re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def gpu_pyproject(text: str) -> str:
    """pyproject.toml of the GPU distribution, from the CPU one's text."""
    out, renamed = re.subn(r'(?m)^name = "fastrerank"$', f'name = "{GPU_NAME}"', text)
    out, swapped = re.subn(r'(?m)^(\s*)"onnxruntime(>=[^"]*)",$', rf'\1"{GPU_RUNTIME}\2",', out)
    out = out.replace(f'"{CPU_NAME}[', f'"{GPU_NAME}[')  # extras that name the project itself
    if (renamed, swapped) != (1, 1):
        raise SystemExit(f"pyproject.toml changed shape: {renamed} project name lines, {swapped} onnxruntime lines (want 1 and 1)")
    project = tomllib.loads(out)["project"]
    requirements = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    wrong = [r for r in requirements if requirement_name(r) in (CPU_NAME, CPU_RUNTIME)]
    if project["name"] != GPU_NAME or wrong or GPU_RUNTIME not in map(requirement_name, project["dependencies"]):
        raise SystemExit(f"the GPU pyproject is wrong: name {project['name']!r}, CPU requirements left: {wrong}")
    return out


def source_files(root: Path) -> list[Path]:
    """The checkout's files as git sees them (tracked, or new and not ignored)."""
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"], capture_output=True, check=True
    ).stdout
    return [Path(p) for p in listed.decode().split("\0") if p and (root / p).is_file()]


def write_tree(out: Path, root: Path = ROOT) -> Path:
    """Copies the checkout to ``out`` with the GPU pyproject.toml; returns ``out``."""
    if out.exists():
        shutil.rmtree(out)
    for rel in source_files(root):
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, out / rel)
    (out / "pyproject.toml").write_text(gpu_pyproject((root / "pyproject.toml").read_text(encoding="utf-8")), encoding="utf-8")
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/gpu_project.py OUT_DIR")
    print(write_tree(Path(sys.argv[1]).resolve()))
