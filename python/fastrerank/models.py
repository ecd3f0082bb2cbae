"""Model resolution: what the user passed -> the files of one model at one precision.

A model directory holds ``model.onnx`` (or a precision variant such as ``model_int8.onnx``),
``tokenizer.json`` and ``config.json``. A name such as ``cross-encoder/ms-marco-MiniLM-L6-v2``
resolves: local directory -> fastrerank's export cache -> the Hugging Face cache -> download
from the Hub (extra ``hub``), with an error that says what to do when none of them has it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastrerank import hub, registry
from fastrerank.hub import ModelNotAvailableError
from fastrerank.registry import RegistryEntry

__all__ = [
    "MODEL_FILES",
    "ModelFiles",
    "ModelNotAvailableError",
    "ONNX_FILE",
    "PRECISIONS",
    "TOKENIZER_FILES",
    "check_precision",
    "max_length_from_config",
    "model_files",
    "resolve",
]

PRECISIONS = ("fp32", "fp16", "int8")
# The ONNX file of each precision in a fastrerank model directory (what `export` writes).
ONNX_FILE = {"fp32": "model.onnx", "fp16": "model_fp16.onnx", "int8": "model_int8.onnx"}
# fastrerank's own files first, then the names Hub repos commonly use.
ONNX_NAMES = {
    "fp32": (ONNX_FILE["fp32"], "onnx/model.onnx"),
    "fp16": (ONNX_FILE["fp16"], "onnx/model_fp16.onnx"),
    "int8": (ONNX_FILE["int8"], "onnx/model_int8.onnx", "onnx/model_quantized.onnx"),
}
# Where a graph's weights are when they are kept beside it (optimum / transformers.js, torch).
EXTERNAL_DATA_SUFFIXES = ("_data", ".data")
# Beside the ONNX file, every model directory has these.
MODEL_FILES = ("config.json", "tokenizer.json")
# What a transformers tokenizer saves besides tokenizer.json (peers and `export` read them).
TOKENIZER_FILES = ("tokenizer_config.json", "special_tokens_map.json")
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

# RoBERTa-style position ids start at padding_idx + 1, so these models can see
# max_position_embeddings - (pad_token_id + 1) tokens (XLM-R: 514 -> 512).
POSITION_OFFSET_MODELS = {"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "mpnet"}


@dataclass(frozen=True)
class ModelFiles:
    """The files of one model at one precision, and its registry entry when it has one."""

    directory: Path
    onnx: Path
    tokenizer: Path
    config: dict[str, Any]
    entry: RegistryEntry | None = None


def check_precision(precision: str) -> None:
    """ValueError unless ``precision`` is one of PRECISIONS."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, got {precision!r}")


def model_files(directory: Path, precision: str, *, onnx_name: str | None = None, entry: RegistryEntry | None = None) -> ModelFiles:
    """The files for ``precision`` in ``directory``, with a clear error for what is missing."""
    check_precision(precision)
    names = (onnx_name,) if onnx_name else ONNX_NAMES[precision]
    onnx = next((directory / n for n in names if (directory / n).is_file()), None)
    if onnx is None:
        hint = (
            f"make it with `fastrerank export <source model> {directory} --precision {precision}`"
            if precision != "fp32"
            else "export the model to ONNX first (`fastrerank export <source model> <dir>`)"
        )
        raise FileNotFoundError(f"precision={precision!r} needs {names[0]} in {directory}, which has none; {hint}")
    tokenizer = directory / "tokenizer.json"
    if not tokenizer.is_file():
        raise FileNotFoundError(f"{directory} has no tokenizer.json (the fast-tokenizer file a transformers tokenizer saves)")
    config_path = directory / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    return ModelFiles(directory, onnx, tokenizer, config, entry)


def _has_precision(directory: Path, precision: str) -> bool:
    return directory.is_dir() and any((directory / n).is_file() for n in ONNX_NAMES[precision])


def resolve(model: str | os.PathLike[str], precision: str = "fp32", *, allow_download: bool = True) -> ModelFiles:
    """The files of ``model`` (a directory, or a Hub name) at ``precision``."""
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"model must be a model directory or a model name, got {type(model).__name__}")
    check_precision(precision)
    path = Path(model).expanduser()
    if path.is_dir():
        return model_files(path, precision)
    name = str(model)
    entry = registry.lookup(name)
    if entry is None and (path.exists() or not REPO_ID.match(name)):
        raise FileNotFoundError(
            f"model {name!r} is not a directory and not a model name; pass a directory holding model.onnx, "
            "tokenizer.json and config.json, or a name (`fastrerank models` lists the known ones)"
        )
    # A registered former id becomes the current one before the Hub is asked: the Hub would
    # redirect it, but huggingface_hub would cache a second copy under the old id.
    repo = entry.name if entry else name
    revision = entry.revision if entry else "main"

    exported = hub.exported_dir(repo)
    if _has_precision(exported, precision):
        return model_files(exported, precision, entry=entry)

    if entry is not None:
        candidates = [entry.onnx_files(precision)]
        if not candidates[0]:
            raise ModelNotAvailableError(
                f"{repo} has no {precision} ONNX file on the Hub, and no fastrerank export was found in {exported}; "
                f"where the Hub is reachable run `fastrerank download {repo} --precision {precision}` "
                "(extras `hub` and `export`: it downloads the weights and exports them), or pass a local model directory"
            )
        patterns = candidates[0]
    else:  # an unregistered repo: the usual names, with external data when the repo has it
        candidates = [[n] for n in ONNX_NAMES[precision]]
        patterns = [p for n in ONNX_NAMES[precision] for p in (n, *(n + suffix for suffix in EXTERNAL_DATA_SUFFIXES))]
    for cached in (repo, *(entry.aliases if entry else ())):  # a cache made under a former id counts
        for files in candidates:
            snapshot = hub.hub_snapshot(cached, revision, [*files, *MODEL_FILES])
            if snapshot is not None:
                return model_files(snapshot, precision, onnx_name=files[0], entry=entry)

    not_here = (
        f"model {repo!r} ({precision}) is not on this machine: looked in {exported} and in the Hugging Face cache "
        f"{hub.hub_cache_dir()} (revision {revision})."
    )
    if not allow_download or hub.is_offline():
        raise ModelNotAvailableError(
            f"{not_here} Where the Hub is reachable: `pip install 'fastrerank[hub]'` and `fastrerank download {repo}`. "
            "Offline: pass a local model directory (model.onnx, tokenizer.json, config.json), or set HF_HOME to a cache that has it."
        )
    try:
        snapshot = hub.download(repo, [*patterns, *MODEL_FILES, *TOKENIZER_FILES], revision)
    except ModelNotAvailableError as e:
        raise ModelNotAvailableError(f"{e}. ({not_here})") from e
    for files in candidates:
        if all((snapshot / f).is_file() for f in files):
            return model_files(snapshot, precision, onnx_name=files[0], entry=entry)
    looked_for = ", ".join(files[0] for files in candidates)
    raise ModelNotAvailableError(
        f"{repo} (commit {snapshot.name}) has no {precision} ONNX file: looked for {looked_for}. "
        f"`fastrerank download {repo} --precision {precision}` exports one (extras `hub` and `export`), "
        "or ask for a precision the repo ships"
    )


def max_length_from_config(config: dict[str, Any]) -> int | None:
    """The model window in tokens: max_position_embeddings minus the position offset."""
    positions = config.get("max_position_embeddings")
    if not isinstance(positions, int):
        return None
    if config.get("model_type") in POSITION_OFFSET_MODELS:
        positions -= int(config.get("pad_token_id", 1)) + 1
    return positions
