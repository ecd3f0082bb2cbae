"""Model directories: where a model's files are, which ONNX file a precision uses, and what its
config says about the window.

A model directory holds ``model.onnx`` (or a precision variant such as ``model_int8.onnx``),
``tokenizer.json`` and ``config.json``. ``resolve`` turns what the user passed into such a
directory.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ModelFiles", "PRECISIONS", "max_length_from_config", "resolve"]

PRECISIONS = ("fp32", "fp16", "int8")

ONNX_NAMES = {
    "fp32": ("model.onnx", "onnx/model.onnx"),
    "fp16": ("model_fp16.onnx", "onnx/model_fp16.onnx"),
    "int8": ("model_int8.onnx", "onnx/model_int8.onnx"),
}

# RoBERTa-style position ids start at padding_idx + 1, so these models can see
# max_position_embeddings - (pad_token_id + 1) tokens (XLM-R: 514 -> 512).
POSITION_OFFSET_MODELS = {"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "mpnet"}


@dataclass(frozen=True)
class ModelFiles:
    """The files of one model at one precision."""

    directory: Path
    onnx: Path
    tokenizer: Path
    config: dict[str, Any]


def resolve(model: str | os.PathLike[str]) -> Path:
    """The directory of ``model``: a local directory path.

    (Model names and the Hugging Face cache come with the model registry.)
    """
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"model must be a path to a model directory, got {type(model).__name__}")
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    raise FileNotFoundError(
        f"model {str(model)!r} is not a directory; pass a directory holding model.onnx, tokenizer.json and config.json"
    )


def model_files(directory: Path, precision: str) -> ModelFiles:
    """The files for ``precision`` in ``directory``, with a clear error for what is missing."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, got {precision!r}")
    onnx = next((directory / n for n in ONNX_NAMES[precision] if (directory / n).is_file()), None)
    if onnx is None:
        hint = (
            f"make it with `fastrerank export <source model> {directory} --precision {precision}`"
            if precision != "fp32"
            else "export the model to ONNX first (`fastrerank export <source model> <dir>`)"
        )
        raise FileNotFoundError(f"precision={precision!r} needs {ONNX_NAMES[precision][0]} in {directory}, which has none; {hint}")
    tokenizer = directory / "tokenizer.json"
    if not tokenizer.is_file():
        raise FileNotFoundError(f"{directory} has no tokenizer.json (the fast-tokenizer file a transformers tokenizer saves)")
    config_path = directory / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    return ModelFiles(directory, onnx, tokenizer, config)


def max_length_from_config(config: dict[str, Any]) -> int | None:
    """The model window in tokens: max_position_embeddings minus the position offset."""
    positions = config.get("max_position_embeddings")
    if not isinstance(positions, int):
        return None
    if config.get("model_type") in POSITION_OFFSET_MODELS:
        positions -= int(config.get("pad_token_id", 1)) + 1
    return positions
