"""The one Reranker behind the adapters: ``model=`` is a model name, a directory, or a Reranker."""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path
from typing import Any

from fastrerank import Reranker

__all__ = ["ModelSource", "model_label", "shared_reranker"]

ModelSource = str | Path | Reranker

_lock = threading.Lock()
# one Reranker per (model, options) while some adapter holds it
_loaded: weakref.WeakValueDictionary[tuple[Any, ...], Reranker] = weakref.WeakValueDictionary()


def shared_reranker(model: Any, reranker_kwargs: dict[str, Any] | None = None) -> Reranker:
    """``model`` itself when it is a Reranker; else the Reranker for that name or directory and
    these ``Reranker(...)`` options, loaded once and shared by every adapter that asks for it."""
    _check_source(model)
    options = dict(reranker_kwargs or {})
    if isinstance(model, Reranker):
        if options:
            raise TypeError("reranker_kwargs are options for loading a model; with an existing Reranker, pass them to Reranker(...)")
        return model
    key = (os.fspath(model), *sorted(options.items()))
    try:
        hash(key)
    except TypeError:  # an unhashable option is a bad option: Reranker says which
        return Reranker(model, **options)
    with _lock:  # one load per key, even when two threads ask at once
        reranker = _loaded.get(key)
        if reranker is None:
            reranker = _loaded[key] = Reranker(model, **options)
    return reranker


def model_label(model: Any) -> str:
    """What a saved configuration records for ``model``: the name or directory (a Reranker's
    ``model_path``; its options are not recorded)."""
    _check_source(model)
    return str(model.model_path) if isinstance(model, Reranker) else os.fspath(model)


def _check_source(model: Any) -> None:
    if not isinstance(model, (str, os.PathLike, Reranker)):
        raise TypeError(f"model must be a model name, a model directory or a fastrerank.Reranker, got {type(model).__name__}")
