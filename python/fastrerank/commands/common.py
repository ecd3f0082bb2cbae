"""What the commands share: the one-line user error and the engine's options."""

from __future__ import annotations

import argparse
from typing import Any

from fastrerank.defaults import DEFAULT_DEVICE, DEFAULT_NORMALIZE, DEFAULT_PRECISION, DEFAULT_TOKEN_CACHE_BYTES
from fastrerank.inputs import NORMALIZE
from fastrerank.models import PRECISIONS

__all__ = ["ENGINE_OPTIONS", "CommandError", "add_engine_arguments", "engine_options"]


class CommandError(Exception):
    """A user error: printed as one line, exit status 2."""


# The Reranker's options as flags: (name, argparse keywords); each help says its default.
ENGINE_OPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("device", dict(default=DEFAULT_DEVICE, help="cpu, cuda, cuda:N or auto (default: %(default)s)")),
    ("precision", dict(default=DEFAULT_PRECISION, choices=PRECISIONS, help="which model file to run (default: %(default)s)")),
    (
        "threads",
        dict(type=int, help="ONNX Runtime threads (default: the smallest of the physical cores, the cgroup CPU quota and OMP_NUM_THREADS)"),
    ),
    ("max_length", dict(type=int, help="model window in tokens (default: the model's)")),
    ("max_batch_tokens", dict(type=int, help="padded tokens per model call (default: 1024 on CPU, 16384 on CUDA)")),
    (
        "batch_overhead",
        dict(type=int, help="one more model call's cost in padded tokens; -1 fills every batch (default: 64 on CPU, -1 on CUDA)"),
    ),
    ("normalize", dict(default=DEFAULT_NORMALIZE, choices=NORMALIZE, help="how logits become scores (default: %(default)s)")),
    (
        "token_cache_bytes",
        dict(type=int, default=DEFAULT_TOKEN_CACHE_BYTES, help="memory for ids of documents seen before; 0: off (default: %(default)s)"),
    ),
)


def add_engine_arguments(p: argparse.ArgumentParser) -> None:
    """The :class:`~fastrerank.Reranker` options, as flags."""
    for name, keywords in ENGINE_OPTIONS:
        p.add_argument("--" + name.replace("_", "-"), **keywords)


def engine_options(args: argparse.Namespace) -> dict[str, Any]:
    """The Reranker keyword arguments from flags added by :func:`add_engine_arguments`."""
    return {name: getattr(args, name) for name, _ in ENGINE_OPTIONS}
