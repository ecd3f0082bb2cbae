"""The model registry: the rerankers fastrerank knows by name (``models/registry.json``,
packaged as ``fastrerank/registry.json``)."""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["RegistryEntry", "cpu_isa", "default_model", "entries", "lookup"]


@dataclass(frozen=True)
class RegistryEntry:
    """One known reranker: its Hub repo, revision, license, window, output head, and the ONNX
    files the repo ships per precision (empty: fastrerank exports it)."""

    name: str
    revision: str
    license: str
    architecture: str
    max_length: int
    logits: int
    size: str
    onnx: dict[str, Any] = field(default_factory=dict)

    @property
    def repo(self) -> str:
        """The Hugging Face Hub repository id."""
        return self.name

    def onnx_file(self, precision: str) -> str | None:
        """The repo's ONNX file for ``precision`` on this CPU, or None if the repo has none."""
        choice = self.onnx.get(precision)
        if isinstance(choice, dict):
            return choice.get(cpu_isa()) or next(iter(choice.values()), None)
        return choice

    @property
    def ships_onnx(self) -> bool:
        """Whether the Hub repo has an fp32 ONNX file (otherwise download exports it)."""
        return "fp32" in self.onnx


def _registry_path() -> Path:
    packaged = resources.files("fastrerank").joinpath("registry.json")
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "models" / "registry.json"  # a source checkout


@lru_cache(maxsize=1)
def _load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_registry_path().read_text(encoding="utf-8"))
    return data


def entries() -> list[RegistryEntry]:
    """Every registered model, in registry order."""
    return [RegistryEntry(name=name, **spec) for name, spec in _load()["models"].items()]


def lookup(name: str) -> RegistryEntry | None:
    """The entry for ``name`` (case-insensitive), or None."""
    for entry in entries():
        if entry.name.lower() == name.lower():
            return entry
    return None


def default_model() -> str:
    """The model ``Reranker()`` and the CLI use when none is named."""
    return str(_load()["default"])


@lru_cache(maxsize=1)
def cpu_isa() -> str:
    """The best int8 kernel family this CPU runs: avx512_vnni, avx512, avx2 or arm64."""
    machine = platform.machine().lower()
    if machine in ("arm64", "aarch64"):
        return "arm64"
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return "avx2"
    if "avx512_vnni" in flags or "avx512vnni" in flags:
        return "avx512_vnni"
    if "avx512f" in flags:
        return "avx512"
    return "avx2"


def has_vnni() -> bool:
    """Whether the CPU has VNNI (int8 dot products); without it int8 needs reduce_range."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return any(f in flags for f in ("avx512_vnni", "avx512vnni", "avx_vnni"))
