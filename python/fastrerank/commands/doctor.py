"""``fastrerank doctor``: one screen to paste into a bug report. fastrerank and its ONNX
Runtime, the providers, CUDA and cuDNN, GPUs, the CPU's instruction set and which int8 file it
takes, the threads a Reranker would use, the tokenizer path of a model, the caches, and whether
the device asked for would work (the exit status: 0 only then)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from typing import Any

from fastrerank import cuda, hub, registry
from fastrerank.cpu import cpu_isa, has_vnni, thread_grant
from fastrerank.defaults import DEFAULT_DEVICE, DEFAULT_PRECISION
from fastrerank.models import PRECISIONS
from fastrerank.session import (
    GPU_DISTRIBUTION,
    OnnxRuntimeConflictError,
    check_onnxruntime,
    installed_version,
    onnxruntime_distributions,
    parse_device,
)

__all__ = ["register"]

DESCRIPTION = (
    "Prints what fastrerank finds on this machine: its version and distribution, the ONNX Runtime package(s) and "
    "providers, the CUDA and cuDNN libraries onnxruntime-gpu needs, the GPUs, the CPU's int8 instruction set, the "
    "threads a Reranker would use, a model's tokenizer path (--model; only from local files), the caches. Exit "
    "status 0 only when --device would work."
)


def register(subparsers: Any) -> None:
    """Adds ``doctor``."""
    p = subparsers.add_parser("doctor", help="what fastrerank finds on this machine, for a bug report", description=DESCRIPTION)
    p.add_argument("--device", default=DEFAULT_DEVICE, help="the device to check: cpu, cuda, cuda:N or auto (default: %(default)s)")
    p.add_argument("--model", help="also load this model (a directory, or a name already cached) on --device")
    p.add_argument("--precision", default=DEFAULT_PRECISION, choices=PRECISIONS, help="with --model (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_doctor)


def _onnxruntime() -> dict[str, Any]:
    out: dict[str, Any] = {"distributions": onnxruntime_distributions(), "conflict": None, "version": None, "providers": []}
    try:
        check_onnxruntime()
    except OnnxRuntimeConflictError as e:
        out["conflict"] = str(e)
    try:
        import onnxruntime as ort

        out["version"], out["providers"] = ort.__version__, list(ort.get_available_providers())
    except Exception as e:  # not installed, or a broken mix of two
        out["import_error"] = f"{type(e).__name__}: {e}"
    return out


def _cuda() -> dict[str, Any]:
    gpus = cuda.gpus()
    return {
        "libraries": [{"name": lib.name, "loadable": lib.loadable, "pip_copy": lib.pip_copy} for lib in cuda.libraries()],
        "gpus": gpus.count,
        "gpus_reason": gpus.reason,
        "how": "onnxruntime-gpu loads them through the system's dynamic loader when a session asks for CUDA, "
        "or onnxruntime.preload_dlls() loads the nvidia-*-cu12 pip packages' copies first",
    }


def _threads() -> dict[str, Any]:
    grant = thread_grant()
    return {
        "threads": grant.threads,
        "rule": grant.rule,
        "why": f"decided by the {grant.rule} (the smallest of the physical cores in the affinity mask, the cgroup CPU quota and "
        "OMP_NUM_THREADS): a Reranker's ONNX Runtime intra-op threads default to it (Reranker(threads=N) overrides)",
    }


def _model(name: str, device: str, precision: str, *, load_it: bool) -> dict[str, Any]:
    from fastrerank import Reranker
    from fastrerank.models import resolve
    from fastrerank.tokenization import FAST_PATH_ENV, load

    out: dict[str, Any] = {"model": name, "precision": precision}
    try:
        files = resolve(name, precision, allow_download=False)
        tokenizer = load(files.tokenizer)
        out |= {"onnx": str(files.onnx), "native_tokenizer": tokenizer.is_fast, "tokenizer_why": tokenizer.fast_path_reason}
        if os.environ.get(FAST_PATH_ENV):
            out["tokenizer_why"] += f" ({FAST_PATH_ENV}={os.environ[FAST_PATH_ENV]})"
        out["loaded_on"] = Reranker(name, device=device, precision=precision).device if load_it else "not tried: the device would not work"
    except Exception as e:
        out["error"] = f"{type(e).__name__}: {e}"
    return out


def _verdict(report: dict[str, Any], device: str) -> list[str]:
    """Why ``device`` would not work (empty: it would)."""
    ort, gpu = report["onnxruntime"], report["cuda"]
    problems = [ort["conflict"]] if ort["conflict"] else []
    if ort["version"] is None:
        problems.append(f"onnxruntime does not import ({ort.get('import_error')}): `pip install --force-reinstall fastrerank`")
    if parse_device(device)[0] == "cuda":
        if "onnxruntime-gpu" not in ort["distributions"]:
            problems.append(f"device cuda needs onnxruntime-gpu (the {GPU_DISTRIBUTION} distribution depends on it), not installed here")
        elif "CUDAExecutionProvider" not in ort["providers"]:
            problems.append("onnxruntime-gpu offers no CUDA execution provider here")
        missing = [lib["name"] for lib in gpu["libraries"] if not (lib["loadable"] or lib["pip_copy"])]
        if missing:
            problems.append(f"CUDA/cuDNN libraries not found: {', '.join(missing)}")
        if not gpu["gpus"]:
            problems.append(f"no GPU: {gpu['gpus_reason']}")
    model = report.get("model")
    if model and "error" in model:
        problems.append(f"the model did not load: {model['error']}")
    return problems


def collect(device: str, model: str | None = None, precision: str = DEFAULT_PRECISION) -> dict[str, Any]:
    """The report as a dict (what ``--json`` prints)."""
    parse_device(device)
    entry = registry.lookup(registry.default_model())
    report: dict[str, Any] = {
        "fastrerank": {
            "version": installed_version("fastrerank") or installed_version(GPU_DISTRIBUTION),
            "distributions": {d: v for d in ("fastrerank", GPU_DISTRIBUTION) if (v := installed_version(d))},
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "onnxruntime": _onnxruntime(),
        "cuda": _cuda(),
        "cpu": {
            "isa": cpu_isa(),
            "vnni": has_vnni(),
            "int8_file_of_the_ms_marco_repos": entry.onnx_file("int8") if entry else None,
            "int8_export": "model_int8.onnx" + ("" if has_vnni() else " (reduce_range: this CPU has no VNNI)"),
        },
        "threads": _threads(),
        "caches": {"huggingface": str(hub.hub_cache_dir()), "fastrerank_exports": str(hub.export_cache_dir()), "offline": hub.is_offline()},
        "device": device,
    }
    if model:
        report["model"] = _model(model, device, precision, load_it=not _verdict(report, device))
    problems = _verdict(report, device)
    report["device_works"], report["problems"] = not problems, problems
    return report


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def render(r: dict[str, Any]) -> str:
    """The report as one screen of text."""
    fr, ort, gpu, cpu, th, caches = r["fastrerank"], r["onnxruntime"], r["cuda"], r["cpu"], r["threads"], r["caches"]
    dists = ", ".join(f"{k} {v}" for k, v in fr["distributions"].items()) or "not installed (running from a source tree)"
    lines = [
        f"fastrerank        {fr['version']} ({dists}); Python {fr['python']} on {fr['platform']}",
        f"onnxruntime       {', '.join(f'{k} {v}' for k, v in ort['distributions'].items()) or 'not installed'}"
        + (f"; imports as {ort['version']}" if ort["version"] else f"; does not import: {ort.get('import_error')}"),
        f"  conflict        {ort['conflict'] or 'none (one ONNX Runtime distribution)'}",
        f"  providers       {', '.join(ort['providers']) or '-'}",
        f"CUDA libraries    ({gpu['how']})",
    ]
    for lib in gpu["libraries"]:
        where = [w for w in ("system loader" if lib["loadable"] else "", lib["pip_copy"] or "") if w]
        lines.append(f"  {lib['name']:18}{' and '.join(where) if where else 'not found'}")
    lines += [
        f"GPUs              {gpu['gpus'] or 'none: ' + gpu['gpus_reason']}",
        f"CPU               {cpu['isa']} (VNNI: {_yes(cpu['vnni'])}); int8 file taken from the ms-marco repos: "
        f"{cpu['int8_file_of_the_ms_marco_repos']}; `fastrerank export` writes {cpu['int8_export']}",
        f"threads           {th['threads']}: {th['why']}",
    ]
    m = r.get("model")
    if m:
        if "error" in m and "onnx" not in m:
            lines.append(f"model             {m['model']} ({m['precision']}): {m['error']}")
        else:
            lines.append(f"model             {m['model']} ({m['precision']}): {m['onnx']}")
            lines.append(f"  tokenizer       native fast path {'on' if m['native_tokenizer'] else 'off'}: {m['tokenizer_why']}")
            lines.append(f"  loaded on       {m.get('loaded_on') or m.get('error')}")
    else:
        lines.append("model             (--model M also loads a model and says which tokenizer path it takes)")
    lines += [
        f"caches            Hugging Face {caches['huggingface']}; fastrerank exports {caches['fastrerank_exports']}"
        + ("; HF_HUB_OFFLINE is set" if caches["offline"] else ""),
        f"device {r['device']:10} " + ("would work" if r["device_works"] else "would NOT work:"),
        *(f"  - {p}" for p in r["problems"]),
    ]
    return "\n".join(lines)


def _doctor(args: argparse.Namespace) -> int:
    report = collect(args.device, args.model, args.precision)
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(render(report))
    return 0 if report["device_works"] else 1
