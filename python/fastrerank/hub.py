"""Finding a named model on disk (the Hugging Face cache, fastrerank's own export cache) and
downloading it from the Hugging Face Hub (extra ``hub``)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from fastrerank.registry import RegistryEntry

__all__ = ["ModelNotAvailableError", "download", "export_cache_dir", "fastrerank_home", "hub_cache_dir", "hub_snapshot", "is_offline"]

HEX40 = re.compile(r"^[0-9a-f]{40}$")


class ModelNotAvailableError(FileNotFoundError):
    """A named model is neither on disk nor downloadable here."""


def hub_cache_dir() -> Path:
    """The Hugging Face Hub cache: $HF_HUB_CACHE, else $HF_HOME/hub, else
    $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "huggingface" / "hub"


def fastrerank_home() -> Path:
    """fastrerank's own cache: $FASTRERANK_HOME, else ~/.cache/fastrerank."""
    root = os.environ.get("FASTRERANK_HOME")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "fastrerank"


def export_cache_dir() -> Path:
    """Where `fastrerank download` puts models it had to export: $FASTRERANK_HOME/models,
    else ~/.cache/fastrerank/models."""
    return fastrerank_home() / "models"


def exported_dir(name: str) -> Path:
    """fastrerank's export of ``name`` (may not exist)."""
    return export_cache_dir() / name.replace("/", "--")


def is_offline() -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) set to a true value."""
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def hub_snapshot(repo: str, revision: str, required: list[str]) -> Path | None:
    """The cached snapshot directory of ``repo`` at ``revision`` holding every ``required``
    file, or None. Reads the cache layout directly (models--org--name/refs, snapshots), so it
    works without huggingface_hub installed."""
    root = hub_cache_dir() / f"models--{repo.replace('/', '--')}"
    if HEX40.match(revision):
        commit = revision
    else:
        ref = root / "refs" / revision
        if not ref.is_file():
            return None
        commit = ref.read_text().strip()
    snapshot = root / "snapshots" / commit
    if snapshot.is_dir() and all((snapshot / f).is_file() for f in required):
        return snapshot
    return None


def download(entry_or_repo: RegistryEntry | str, files: list[str], revision: str = "main") -> Path:
    """Downloads ``files`` of the repo into the Hugging Face cache; returns the snapshot dir."""
    repo = entry_or_repo.repo if isinstance(entry_or_repo, RegistryEntry) else entry_or_repo
    if isinstance(entry_or_repo, RegistryEntry):
        revision = entry_or_repo.revision
    if is_offline():
        raise ModelNotAvailableError(f"{repo} is not in the local cache and HF_HUB_OFFLINE is set, so it cannot be downloaded")
    try:
        from huggingface_hub import snapshot_download
    except ImportError as e:
        raise ModelNotAvailableError(
            f"{repo} is not in the local cache ({hub_cache_dir()}), and downloading it needs huggingface_hub: "
            "`pip install 'fastrerank[hub]'`"
        ) from e
    try:
        path = snapshot_download(repo_id=repo, revision=revision, allow_patterns=files, cache_dir=str(hub_cache_dir()))
    except Exception as e:  # network, auth, missing repo: all end the same way for the user
        raise ModelNotAvailableError(f"could not download {repo} (revision {revision}) from the Hugging Face Hub: {e}") from e
    return Path(path)
