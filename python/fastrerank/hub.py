"""Finding a named model on disk (the Hugging Face cache, fastrerank's own export cache) and
downloading it from the Hugging Face Hub (extra ``hub``)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

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


def hub_snapshot(repo: str, revision: str, required: Sequence[str]) -> Path | None:
    """The cached snapshot directory of ``repo`` at ``revision`` holding every ``required``
    file, or None. Reads the cache layout directly (models--org--name/refs, snapshots), so it
    works without huggingface_hub installed and asks nothing of the network. The snapshot's
    files are symlinks into blobs/: open them by this path (an ONNX graph finds its external
    data beside it), never by the link's target."""
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


def download(repo: str, patterns: Sequence[str], revision: str = "main") -> Path:
    """Downloads the files of ``repo`` matching ``patterns`` into the Hugging Face cache;
    returns the snapshot directory. A pattern that matches nothing is not an error: the caller
    checks for the files it needs."""
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
        path = snapshot_download(repo_id=repo, revision=revision, allow_patterns=list(patterns), cache_dir=str(hub_cache_dir()))
    except Exception as e:  # huggingface_hub's errors, or the network's
        raise ModelNotAvailableError(_download_failure(repo, revision, e)) from e
    return Path(path)


def _download_failure(repo: str, revision: str, error: Exception) -> str:
    """What went wrong, and what to do about it, by huggingface_hub's error class."""
    kinds = {cls.__name__ for cls in type(error).__mro__}
    detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if "GatedRepoError" in kinds:
        return f"{repo} is gated on the Hugging Face Hub: accept its terms on its Hub page, then log in (`hf auth login`, or set HF_TOKEN)"
    if "RevisionNotFoundError" in kinds:
        return f"{repo} has no revision {revision!r} on the Hugging Face Hub"
    if "RepositoryNotFoundError" in kinds:
        return (
            f"there is no model {repo!r} on the Hugging Face Hub (or it is private: log in with `hf auth login` or set HF_TOKEN); "
            "check the name (`fastrerank models` lists the known ones)"
        )
    return f"could not download {repo} (revision {revision}) from the Hugging Face Hub: {detail}"
