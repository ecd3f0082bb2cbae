"""The model runner: one ONNX Runtime InferenceSession, on CPU or CUDA.

This is the narrow seam between the engine and the backend: a session takes one padded batch
(int64 input_ids, attention_mask and, when the graph has it, token_type_ids) and returns
float32 logits [rows, 1 | 2]. Nothing else in the package imports onnxruntime.
"""

from __future__ import annotations

import importlib.metadata
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from fastrerank.cpu import physical_cores

__all__ = [
    "DeviceNotAvailableError",
    "OnnxRuntimeConflictError",
    "Session",
    "check_onnxruntime",
    "cuda_listed",
    "installed_version",
    "onnxruntime_distributions",
    "parse_device",
]

DEVICES = ("cpu", "cuda", "auto")

# The distributions that install the `onnxruntime` module. Two of them write the same folder:
# which one runs is an accident of install order (and their files mix).
ONNXRUNTIME_DISTRIBUTIONS = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino")
GPU_DISTRIBUTION = "fastrerank-gpu"  # the same package, depending on onnxruntime-gpu

GPU_INSTALL_HINT = (
    "install fastrerank's GPU build, which depends on onnxruntime-gpu and not on onnxruntime: "
    "`pip uninstall -y fastrerank onnxruntime && pip install fastrerank-gpu` (onnxruntime-gpu needs the CUDA 12 and "
    "cuDNN 9 libraries; `fastrerank doctor --device cuda` checks them); or pass device='cpu'"
)


class DeviceNotAvailableError(RuntimeError):
    """The requested device cannot run the model here (no CUDA build, no GPU, missing libraries)."""


class OnnxRuntimeConflictError(RuntimeError):
    """More than one ONNX Runtime distribution is installed (they share the onnxruntime module)."""


def installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution`` (package metadata), or None."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def onnxruntime_distributions() -> dict[str, str]:
    """The installed distributions that provide the ``onnxruntime`` module: name -> version."""
    return {name: v for name in ONNXRUNTIME_DISTRIBUTIONS if (v := installed_version(name))}


def check_onnxruntime() -> dict[str, str]:
    """The installed ONNX Runtime distributions (see :func:`onnxruntime_distributions`);
    :class:`OnnxRuntimeConflictError` with the command that fixes it when there are several.
    Reads package metadata only: it does not import onnxruntime."""
    installed = onnxruntime_distributions()
    if len(installed) < 2:
        return installed
    ours = GPU_DISTRIBUTION if installed_version(GPU_DISTRIBUTION) else "fastrerank"
    keep = "onnxruntime-gpu" if ours == GPU_DISTRIBUTION and "onnxruntime-gpu" in installed else next(iter(installed))
    names = " and ".join(f"{name} {version}" for name, version in installed.items())
    raise OnnxRuntimeConflictError(
        f"{names} are installed together; they write the same `onnxruntime` module folder, so which one runs is an accident of "
        f"install order. Keep one ({ours} wants {keep}): `pip uninstall -y {' '.join(installed)} && "
        f"pip install '{keep}=={installed[keep]}'`"
    )


def _cuda_unavailable(device: str, installed: dict[str, str], available: list[str]) -> str:
    """Why CUDA is not among the providers: which ONNX Runtime is installed, and what is missing."""
    have = ", ".join(f"{name} {version}" for name, version in installed.items()) or "no ONNX Runtime distribution"
    if "onnxruntime-gpu" not in installed:
        return (
            f"device={device!r} needs onnxruntime-gpu, but what is installed here is {have}, which has no CUDA execution provider "
            f"(it has {', '.join(available)}); {GPU_INSTALL_HINT}"
        )
    return (
        f"device={device!r}: onnxruntime-gpu {installed['onnxruntime-gpu']} is installed but offers no CUDA execution provider "
        f"(it has {', '.join(available)}): the install is broken or built for another platform; reinstall it "
        f"(`pip install --force-reinstall --no-deps 'onnxruntime-gpu=={installed['onnxruntime-gpu']}'`), or pass device='cpu'"
    )


def _cuda_did_not_attach(device: str, installed: dict[str, str], attached: list[str]) -> str:
    """Why the CUDA provider did not attach: the missing libraries, or no GPU."""
    from fastrerank import cuda

    missing = [lib.name for lib in cuda.libraries() if not lib.found]
    gpus = cuda.gpus()
    why = []
    if missing:
        fix = "install the CUDA 12 and cuDNN 9 runtimes, or `pip install 'onnxruntime-gpu[cuda,cudnn]'`"
        why.append(f"not found: {', '.join(missing)} ({fix})")
    if not gpus.count:
        why.append(gpus.reason)
    version = installed.get("onnxruntime-gpu", "?")
    return (
        f"device={device!r}: onnxruntime-gpu {version} is installed, but its CUDA execution provider did not attach (the session "
        f"runs on {attached}): {'; '.join(why) or 'ONNX Runtime logged why above'}. `fastrerank doctor --device cuda` shows "
        "what it looked for; or pass device='cpu'"
    )


def parse_device(device: str) -> tuple[str, int]:
    """'cpu' | 'cuda' | 'cuda:N' | 'auto' -> (kind, device id)."""
    if not isinstance(device, str):
        raise TypeError(f"device must be a str ('cpu', 'cuda', 'cuda:N' or 'auto'), got {type(device).__name__}")
    kind, _, index = device.strip().lower().partition(":")
    if kind not in DEVICES or (index and (kind != "cuda" or not index.isdigit())):
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}")
    return kind, int(index or 0)


def cuda_listed() -> bool:
    """Whether this ONNX Runtime lists the CUDA execution provider (``device="auto"`` then
    tries CUDA)."""
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


class Session:
    """An ONNX Runtime session over one model file. ``run`` is safe to call from several threads."""

    def __init__(self, model_path: str | Path, *, device: str = "cpu", threads: int | None = None) -> None:
        installed = check_onnxruntime()
        import onnxruntime as ort

        self.model_path = Path(model_path)
        kind, device_id = parse_device(device)
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)):
            raise TypeError(f"threads must be an int or None, got {type(threads).__name__}")
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self.threads = threads or physical_cores()
        self.run_seconds = 0.0  # time spent inside the model, summed over all calls
        self.run_calls = 0
        self._stats_lock = threading.Lock()

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Every batch has its own shape: memory patterns would be planned for one shape only.
        options.enable_mem_pattern = False

        available = ort.get_available_providers()
        want_cuda = kind == "cuda" or (kind == "auto" and "CUDAExecutionProvider" in available)
        if kind == "cuda" and "CUDAExecutionProvider" not in available:
            raise DeviceNotAvailableError(_cuda_unavailable(device, installed, available))
        providers: list[Any] = ["CPUExecutionProvider"]
        if want_cuda:
            # Every batch has its own shape: grow the GPU arena by what is asked, not by doubling.
            providers.insert(0, ("CUDAExecutionProvider", {"device_id": device_id, "arena_extend_strategy": "kSameAsRequested"}))
        self._session = ort.InferenceSession(str(self.model_path), sess_options=options, providers=providers)

        attached = self._session.get_providers()
        self.device = "cuda" if attached and attached[0] == "CUDAExecutionProvider" else "cpu"
        self.device_id = device_id if self.device == "cuda" else 0
        if kind == "cuda" and self.device != "cuda":
            raise DeviceNotAvailableError(_cuda_did_not_attach(device, installed, attached))

        inputs = {i.name: i for i in self._session.get_inputs()}
        for required in ("input_ids", "attention_mask"):
            if required not in inputs:
                raise ValueError(f"{self.model_path} has no {required!r} input (inputs: {sorted(inputs)}); is it a cross-encoder?")
        unknown = set(inputs) - {"input_ids", "attention_mask", "token_type_ids"}
        if unknown:
            raise ValueError(f"{self.model_path} has inputs fastrerank does not feed: {sorted(unknown)}")
        self.has_token_type_ids = "token_type_ids" in inputs
        self._input_dtypes = {name: np.int32 if i.type == "tensor(int32)" else np.int64 for name, i in inputs.items()}

        output = self._session.get_outputs()[0]
        self.output_name = output.name
        if len(output.shape) not in (1, 2):
            raise ValueError(f"{self.model_path} output {output.name!r} has shape {output.shape}; expected [batch] or [batch, 1 | 2]")
        # Logits per row: [batch] -> 1, [batch, n] -> n, a symbolic n -> known after the first run.
        self.num_logits: int | None = 1 if len(output.shape) == 1 else output.shape[1] if isinstance(output.shape[1], int) else None
        if self.num_logits not in (None, 1, 2):
            raise ValueError(
                f"{self.model_path} outputs {self.num_logits} logits per pair; a reranker gives 1 (a score) or 2 (negative, positive)"
            )

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray, token_type_ids: np.ndarray | None) -> np.ndarray:
        """Logits of one batch as float32 [rows, 1 | 2] (or [rows]). Releases the GIL while the model runs."""
        feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self.has_token_type_ids:
            feeds["token_type_ids"] = token_type_ids if token_type_ids is not None else np.zeros_like(input_ids)
        for name, array in feeds.items():
            if self._input_dtypes[name] != np.int64:
                feeds[name] = array.astype(self._input_dtypes[name])
        start = time.perf_counter()
        if self.device == "cuda":
            logits = self._run_cuda(feeds)
        else:
            logits = self._session.run([self.output_name], feeds)[0]
        elapsed = time.perf_counter() - start
        with self._stats_lock:
            self.run_seconds += elapsed
            self.run_calls += 1
        return np.ascontiguousarray(logits, dtype=np.float32)

    def _run_cuda(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        # IOBinding: inputs copied to the GPU once, the output left on the GPU until we copy it
        # back, instead of ORT's implicit host round trips.
        binding = self._session.io_binding()
        for name, array in feeds.items():
            binding.bind_cpu_input(name, array)
        binding.bind_output(self.output_name, "cuda", self.device_id)
        self._session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0]
