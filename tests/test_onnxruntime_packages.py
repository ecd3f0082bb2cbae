"""Which ONNX Runtime is installed, checked where the session is made: two distributions of it
(they write the same `onnxruntime` module folder) fail every Reranker with the command that
fixes it. Each case runs in a child process with fake distribution metadata (a dist-info folder)
first on its sys.path: importlib.metadata itself finds it, nothing is patched."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from importlib.metadata import version
from pathlib import Path

import pytest

CHILD = textwrap.dedent(
    """
    import json, sys
    from fastrerank import Reranker
    out = []
    for device in ("cpu", "cuda", "auto"):
        try:
            Reranker(sys.argv[1], device=device)
            out.append(None)
        except Exception as e:
            out.append([type(e).__name__, str(e)])
    print(json.dumps(out))
    """
)


def errors(model: Path, env: dict[str, str]) -> list:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(model)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture
def cpu_ort():
    return version("onnxruntime")


def test_both_onnxruntimes_fail_every_device_with_the_fix(tiny_models, installed_too, cpu_ort):
    for kind, message in errors(tiny_models["bert-1"], installed_too(**{"onnxruntime-gpu": "1.31.1"})):
        assert kind == "OnnxRuntimeConflictError"
        assert f"onnxruntime {cpu_ort} and onnxruntime-gpu 1.31.1 are installed together" in message
        assert f"`pip uninstall -y onnxruntime onnxruntime-gpu && pip install 'onnxruntime=={cpu_ort}'`" in message


def test_the_gpu_distribution_keeps_onnxruntime_gpu(tiny_models, installed_too):
    for kind, message in errors(tiny_models["bert-1"], installed_too(**{"onnxruntime-gpu": "1.31.1", "fastrerank-gpu": "0.1.0"})):
        assert kind == "OnnxRuntimeConflictError"
        assert "(fastrerank-gpu wants onnxruntime-gpu)" in message
        assert "&& pip install 'onnxruntime-gpu==1.31.1'`" in message


def test_one_onnxruntime_is_no_conflict(tiny_models, installed_too, cpu_ort):
    cpu, cuda, auto = errors(tiny_models["bert-1"], installed_too(**{"onnxruntime-tools": "1.7.0"}))  # not an onnxruntime module
    assert cpu is None and auto is None
    assert cuda[0] == "DeviceNotAvailableError" and f"what is installed here is onnxruntime {cpu_ort}" in cuda[1]
