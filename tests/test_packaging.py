"""The two distributions from one tree, and the release configuration that builds them:
fastrerank depends on onnxruntime, fastrerank-gpu (scripts/gpu_project.py) on onnxruntime-gpu,
never both. The wheels themselves are built by scripts/build_wheels.sh (not a test: minutes)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

tomllib = pytest.importorskip("tomllib")  # CPython 3.11+

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("gpu_project", ROOT / "scripts" / "gpu_project.py")
gpu_project = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_project)
TEXT = (ROOT / "pyproject.toml").read_text()


def requirements(project: dict) -> list[str]:
    return [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]


def test_cpu_distribution_depends_on_onnxruntime_only():
    project = tomllib.loads(TEXT)["project"]
    assert project["name"] == "fastrerank"
    names = [gpu_project.requirement_name(r) for r in requirements(project)]
    assert "onnxruntime" in map(gpu_project.requirement_name, project["dependencies"])
    assert "onnxruntime-gpu" not in names and "gpu" not in project["optional-dependencies"]


def test_gpu_distribution_is_the_same_project_on_onnxruntime_gpu():
    cpu, gpu = tomllib.loads(TEXT), tomllib.loads(gpu_project.gpu_pyproject(TEXT))
    assert gpu["project"]["name"] == "fastrerank-gpu"
    names = [gpu_project.requirement_name(r) for r in requirements(gpu["project"])]
    assert "onnxruntime" not in names and "fastrerank" not in names and "onnxruntime-gpu" in names
    # nothing else differs: same version, import package, scripts, build settings
    swap = {"onnxruntime": "onnxruntime-gpu", "fastrerank": "fastrerank-gpu"}

    def renamed(requirement: str) -> str:
        name = gpu_project.requirement_name(requirement)
        return swap[name] + requirement[len(name) :] if name in swap else requirement

    cpu["project"]["name"] = "fastrerank-gpu"
    cpu["project"]["dependencies"] = [renamed(r) for r in cpu["project"]["dependencies"]]
    cpu["project"]["optional-dependencies"] = {k: [renamed(r) for r in v] for k, v in cpu["project"]["optional-dependencies"].items()}
    assert cpu == gpu


def test_gpu_project_refuses_a_pyproject_it_does_not_understand():
    with pytest.raises(SystemExit, match="changed shape"):
        gpu_project.gpu_pyproject(TEXT.replace('    "onnxruntime>=1.17",\n', '    "onnxruntime >= 1.17",\n'))


def test_release_builds_both_distributions_where_their_runtime_exists():
    tool = tomllib.loads(TEXT)["tool"]
    assert tool["scikit-build"]["wheel"]["py-api"] == "cp312"  # abi3 from 3.12 on
    assert set(tool["cibuildwheel"]["build"].split()) == {"cp310-*", "cp311-*", "cp312-*"}
    job = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())["jobs"]["wheels"]
    matrix = job["strategy"]["matrix"]
    assert set(matrix["os"]) == {"ubuntu-24.04", "ubuntu-24.04-arm", "macos-14", "windows-2022"}
    assert set(matrix["distribution"]) == {"fastrerank", "fastrerank-gpu"}
    built = {(os, d) for os in matrix["os"] for d in matrix["distribution"]} - {(e["os"], e["distribution"]) for e in matrix["exclude"]}
    assert {d for os, d in built if os == "ubuntu-24.04-arm" or os.startswith("macos")} == {"fastrerank"}  # no onnxruntime-gpu there
    assert {os for os, d in built if d == "fastrerank-gpu"} == {"ubuntu-24.04", "windows-2022"}
    steps = "\n".join(str(s.get("run", "")) for s in job["steps"])
    assert "scripts/gpu_project.py" in steps and "cibuildwheel" in steps
