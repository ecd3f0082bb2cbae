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

__all__ = ["Architecture", "RegistryEntry", "architectures", "default_model", "entries", "lookup"]

# Which int8 file a CPU takes, best first: every file runs everywhere (they are plain ONNX
# quantized operators), the instruction set only says which one its kernels were tuned for.
INT8_PREFERENCE = {
    "avx512_vnni": ("avx512_vnni", "avx512", "avx2"),
    "avx512": ("avx512", "avx512_vnni", "avx2"),
    "avx2": ("avx2", "avx512", "avx512_vnni"),
    "arm64": ("arm64",),
}


@dataclass(frozen=True)
class RegistryEntry:
    """One known reranker: its Hub repo id (``name``) and the ids it had before (``aliases``),
    revision, license, window, output head, the ONNX files the repo ships per precision (none:
    fastrerank exports it), the files each graph keeps its weights in, and the facts not
    checked against the Hub."""

    name: str
    revision: str
    license: str
    architecture: str
    max_length: int
    logits: int
    size: str
    onnx: dict[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    external_data: dict[str, list[str]] = field(default_factory=dict)
    unverified: tuple[str, ...] = ()

    def onnx_file(self, precision: str) -> str | None:
        """The repo's ONNX file for ``precision`` on this CPU, or None if the repo has none."""
        choice = self.onnx.get(precision)
        if not isinstance(choice, dict):
            return choice
        preferred = [choice[isa] for isa in INT8_PREFERENCE.get(cpu_isa(), ()) if isa in choice]
        return preferred[0] if preferred else next(iter(choice.values()), None)

    def onnx_files(self, precision: str) -> list[str]:
        """The files to download for ``precision``: the graph, then its external data (empty
        if the repo ships no such graph)."""
        graph = self.onnx_file(precision)
        return [graph, *self.external_data.get(graph, [])] if graph else []


@dataclass(frozen=True)
class Architecture:
    """A model architecture the registry names, and how it is exercised here."""

    name: str
    exercised: bool
    how: str


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
    out = []
    for name, spec in _load()["models"].items():
        spec = dict(spec, aliases=tuple(spec.get("aliases", ())), unverified=tuple(spec.get("unverified", ())))
        out.append(RegistryEntry(name=name, **spec))
    return out


def architectures() -> dict[str, Architecture]:
    """The architectures entries name, by name."""
    return {name: Architecture(name, **spec) for name, spec in _load()["architectures"].items()}


def lookup(name: str) -> RegistryEntry | None:
    """The entry whose repo id or former id is ``name`` (case-insensitive), or None."""
    key = name.lower()
    for entry in entries():
        if key == entry.name.lower() or key in (a.lower() for a in entry.aliases):
            return entry
    return None


def default_model() -> str:
    """The model ``fastrerank download`` fetches when none is named."""
    return str(_load()["default"])
