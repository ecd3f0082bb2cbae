"""What CUDA this machine offers ONNX Runtime: the CUDA and cuDNN libraries onnxruntime-gpu
needs, and the GPUs the NVIDIA driver sees. Read by ``fastrerank doctor`` and by the session's
error when CUDA does not attach; nothing here needs onnxruntime.

onnxruntime-gpu (CUDA 12 builds, the PyPI default since 1.19) loads its CUDA provider library
when a session asks for CUDA; that library needs the CUDA 12 runtime, cuBLAS, cuFFT, cuRAND and
cuDNN 9, found by the system's dynamic loader (LD_LIBRARY_PATH, the ldconfig cache; PATH on
Windows), or loaded beforehand from the ``nvidia-*-cu12`` pip packages (or PyTorch's copies) by
``onnxruntime.preload_dlls()``.
"""

from __future__ import annotations

import ctypes
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

__all__ = ["GpuCount", "Library", "gpus", "libraries"]

if sys.platform == "win32":
    LIBRARIES = ("cudart64_12.dll", "cublas64_12.dll", "cublasLt64_12.dll", "cufft64_11.dll", "curand64_10.dll", "cudnn64_9.dll")
    DRIVER = "nvcuda.dll"
else:
    LIBRARIES = ("libcudart.so.12", "libcublas.so.12", "libcublasLt.so.12", "libcufft.so.11", "libcurand.so.10", "libcudnn.so.9")
    DRIVER = "libcuda.so.1"


@dataclass(frozen=True)
class Library:
    """One library onnxruntime-gpu needs: whether the system loader finds it, and where a pip
    package (``nvidia-*-cu12``) has it, for ``onnxruntime.preload_dlls()``."""

    name: str
    loadable: bool
    pip_copy: str | None

    @property
    def found(self) -> bool:
        """Loadable, or in a pip package preload_dlls can load it from."""
        return self.loadable or self.pip_copy is not None


@dataclass(frozen=True)
class GpuCount:
    """GPUs the NVIDIA driver reports (0 when there is no driver), and why not when none."""

    count: int
    reason: str


def _loadable(name: str) -> bool:
    try:
        ctypes.CDLL(name)
    except OSError:
        return False
    return True


def _pip_copy(name: str) -> str | None:
    site = Path(sysconfig.get_paths()["purelib"]) / "nvidia"
    for sub in ("lib", "bin"):
        for found in sorted(site.glob(f"*/{sub}/{name}")):
            return str(found)
    return None


def libraries() -> list[Library]:
    """The CUDA 12 and cuDNN 9 libraries onnxruntime-gpu's CUDA provider needs, each looked up."""
    return [Library(name, _loadable(name), _pip_copy(name)) for name in LIBRARIES]


def gpus() -> GpuCount:
    """The GPUs the driver sees (cuInit, cuDeviceGetCount)."""
    try:
        driver = ctypes.CDLL(DRIVER)
    except OSError:
        return GpuCount(0, f"no NVIDIA driver: {DRIVER} is not found")
    status = driver.cuInit(0)
    if status != 0:
        return GpuCount(0, f"the NVIDIA driver is there but cuInit failed (CUDA error {status}; 100 is 'no device')")
    count = ctypes.c_int(0)
    status = driver.cuDeviceGetCount(ctypes.byref(count))
    if status != 0 or count.value == 0:
        return GpuCount(0, f"the NVIDIA driver sees no GPU (CUDA_VISIBLE_DEVICES may hide them; status {status})")
    return GpuCount(count.value, "")
