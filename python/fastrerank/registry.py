"""The model registry: the rerankers fastrerank knows by name (``models/registry.json``,
packaged as ``fastrerank/registry.json``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from fastrerank.cpu import cpu_isa

__all__ = ["RegistryEntry", "default_model", "entries", "lookup"]


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
