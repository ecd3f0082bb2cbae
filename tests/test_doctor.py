"""`fastrerank doctor`: what it finds here, its JSON, and its exit status (0 only when the
device asked for would work)."""

from __future__ import annotations

import json
import subprocess
import sys
from unittest.mock import ANY

import pytest

from fastrerank import hub
from fastrerank.cli import main
from fastrerank.cpu import OMP_NUM_THREADS, cpu_isa, thread_grant


def has_cuda() -> bool:
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


def test_doctor_on_this_machine(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    for line in ("fastrerank ", "onnxruntime ", "  conflict        none", "  providers       ", "CUDA libraries", "GPUs ", "caches "):
        assert line in out
    assert "CPUExecutionProvider" in out and "libcudnn" in out
    assert (
        f"CPU               {cpu_isa()}" in out
        and f"threads           {thread_grant().threads}: decided by the {thread_grant().rule}" in out
    )
    assert str(hub.hub_cache_dir()) in out and str(hub.export_cache_dir()) in out
    assert out.rstrip().endswith("device cpu        would work")


@pytest.mark.skipif(has_cuda(), reason="this machine has CUDA")
def test_doctor_says_why_cuda_would_not_work(capsys):
    assert main(["doctor", "--device", "cuda"]) == 1
    out = capsys.readouterr().out
    assert "device cuda       would NOT work:" in out and "needs onnxruntime-gpu" in out
    assert main(["doctor", "--device", "auto"]) == 0


def test_doctor_json_and_a_model(capsys, tiny_models):
    assert main(["doctor", "--json", "--model", str(tiny_models["bert-1"])]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["device_works"] and report["problems"] == []
    assert report["onnxruntime"]["conflict"] is None and "CPUExecutionProvider" in report["onnxruntime"]["providers"]
    assert report["cpu"]["isa"] == cpu_isa() and report["threads"] == {
        **report["threads"],
        "threads": thread_grant().threads,
        "rule": thread_grant().rule,
    }
    model = report["model"]
    assert model["native_tokenizer"] is True and model["loaded_on"] == "cpu" and model["onnx"].endswith("model.onnx")
    assert main(["doctor", "--json", "--model", str(tiny_models["xlmr"])]) == 0
    model = json.loads(capsys.readouterr().out)["model"]
    assert model["native_tokenizer"] is False and "WordPiece" in model["tokenizer_why"]
    assert main(["doctor", "--json", "--model", "nobody/not-cached"]) == 1
    assert "ModelNotAvailableError" in json.loads(capsys.readouterr().out)["model"]["error"]


def test_doctor_with_both_onnxruntimes_fails_and_shows_the_fix(installed_too):
    env = installed_too(**{"onnxruntime-gpu": "1.31.1"})
    proc = subprocess.run([sys.executable, "-m", "fastrerank", "doctor"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "onnxruntime-gpu 1.31.1" in proc.stdout and "pip uninstall -y onnxruntime onnxruntime-gpu" in proc.stdout
    assert "device cpu        would NOT work:" in proc.stdout


def test_doctor_says_which_rule_decided_the_threads(capsys, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # as Ray sets it for a one-CPU actor
    assert main(["doctor", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["threads"] == {"why": ANY, "threads": 1, "rule": OMP_NUM_THREADS}
    assert main(["doctor"]) == 0
    assert f"threads           1: decided by the {OMP_NUM_THREADS}" in capsys.readouterr().out
