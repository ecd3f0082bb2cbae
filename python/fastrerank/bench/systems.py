"""The systems the benchmark compares, each loaded from the same local model directory.

Every system is ``load(model_dir, threads, workdir) -> rank(query, docs) -> scores`` (in input
order, sigmoid of the logit), and runs in its own process (see worker.py). Every system scores
the same pairs: the query and the document cut to one 512-token window (peers truncate; fastrerank
is given ``max_windows_per_doc=1``, where its default would window long documents and do more
work).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fastrerank.defaults import DEFAULT_FUSE
from fastrerank.models import MODEL_FILES, TOKENIZER_FILES

__all__ = ["FLOPS", "SYSTEMS", "Ranker", "encoder_shape", "exact_length_groups", "one_window_rows"]

Ranker = Callable[[str, list[str]], np.ndarray]


def window(model: Path) -> int:
    """The model's window (512 for MiniLM), as every system is told to truncate to."""
    from fastrerank.models import max_length_from_config

    return max_length_from_config(json.loads((model / "config.json").read_text())) or 512


def _sigmoid(x: Any) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64).reshape(-1)))


def _fastrerank(
    precision: str, subdir: str = "", fuse: bool | None = None, batch_overhead: int | None = None
) -> Callable[[Path, int, Path], Ranker]:
    """fastrerank on the model (or workdir/SUBDIR); ``fuse`` and ``batch_overhead`` None: the
    Reranker's defaults."""

    def load(model: Path, threads: int, workdir: Path) -> Ranker:
        from fastrerank import Reranker

        # no token cache: the timed rounds repeat the workload, and the peers tokenize every time
        fusing = DEFAULT_FUSE if fuse is None else fuse
        rr = Reranker(
            workdir / subdir if subdir else model,
            precision=precision,
            threads=threads,
            token_cache_bytes=0,
            fuse=fusing,
            batch_overhead=batch_overhead,
        )

        def rank(query: str, docs: list[str]) -> np.ndarray:
            scores = np.empty(len(docs))
            for r in rr.rerank(query, docs, max_windows_per_doc=1).results:
                scores[r.index] = r.relevance_score
            return scores

        rank.reranker = rr  # type: ignore[attr-defined]
        return rank

    return load


def _sentence_transformers(model: Path, threads: int, workdir: Path) -> Ranker:
    import torch
    from sentence_transformers import CrossEncoder

    torch.set_num_threads(threads)
    ce = CrossEncoder(str(model), device="cpu", max_length=window(model))

    def rank(query: str, docs: list[str]) -> np.ndarray:
        return np.asarray(ce.predict([(query, d) for d in docs], batch_size=32, show_progress_bar=False), dtype=np.float64)

    return rank


def _fastembed(model: Path, threads: int, workdir: Path) -> Ranker:
    from fastembed.common.model_description import ModelSource
    from fastembed.rerank.cross_encoder import TextCrossEncoder

    name = "local/fastrerank-bench"
    try:
        TextCrossEncoder.add_custom_model(model=name, sources=ModelSource(hf=name), model_file="model.onnx")
    except ValueError:
        pass  # registered already in this process
    enc = TextCrossEncoder(name, specific_model_path=str(model), threads=threads)

    def rank(query: str, docs: list[str]) -> np.ndarray:
        return _sigmoid(list(enc.rerank(query, docs, batch_size=64)))

    return rank


def _flashrank(model: Path, threads: int, workdir: Path) -> Ranker:
    from flashrank import Ranker as FlashRanker
    from flashrank import RerankRequest

    # FlashRank loads known names from cache_dir/<name>/<its file name>: give it our model there.
    name, file = "ms-marco-MiniLM-L-12-v2", "flashrank-MiniLM-L-12-v2_Q.onnx"
    cache = workdir / "flashrank"
    target = cache / name
    target.mkdir(parents=True, exist_ok=True)
    for f in (*MODEL_FILES, *TOKENIZER_FILES):
        if (model / f).is_file() and not (target / f).exists():
            shutil.copyfile(model / f, target / f)
    if not (target / file).exists():
        os.symlink((model / "model.onnx").resolve(), target / file)
    ranker = FlashRanker(model_name=name, cache_dir=str(cache), max_length=window(model), log_level="ERROR")

    def rank(query: str, docs: list[str]) -> np.ndarray:
        out = ranker.rerank(RerankRequest(query=query, passages=[{"id": i, "text": d} for i, d in enumerate(docs)]))
        scores = np.empty(len(docs))
        for r in out:
            scores[int(r["id"])] = float(r["score"])
        return scores

    return rank


def _ort_session(path: Path, threads: int):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _onnxruntime_loop(model: Path, threads: int, workdir: Path) -> Ranker:
    """What a user writes by hand: tokenizers + ONNX Runtime, fixed batches of 32 in arrival
    order, each padded to its longest pair, truncated to 512 tokens."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model / "tokenizer.json"))
    tok.enable_truncation(window(model))
    tok.enable_padding()
    session = _ort_session(model / "model.onnx", threads)
    names = {i.name for i in session.get_inputs()}

    def rank(query: str, docs: list[str]) -> np.ndarray:
        out = []
        for start in range(0, len(docs), 32):
            enc = tok.encode_batch([(query, d) for d in docs[start : start + 32]])
            feeds = {
                "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
            }
            if "token_type_ids" in names:
                feeds["token_type_ids"] = np.array([e.type_ids for e in enc], dtype=np.int64)
            out.append(session.run(None, feeds)[0].reshape(-1))
        return _sigmoid(np.concatenate(out))

    return rank


def one_window_rows(rr: Any, query: str, docs: list[str], max_batch_tokens: int, batch_overhead: int = -1) -> Any:
    """fastrerank's rows of ``query`` against ``docs``, each document cut to one window (as
    every system is), planned into batches: a ``_core.PackPlan``."""
    from fastrerank.engine import DocumentLimits, pack

    request = rr.encode_request(query, docs, DocumentLimits(max_windows_per_doc=1))
    return pack([request], rr.template, max_length=rr.max_length, max_batch_tokens=max_batch_tokens, batch_overhead=batch_overhead)


def exact_length_groups(rr: Any, query: str, docs: list[str]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """fastrerank's rows of ``query`` against ``docs`` (one window each), grouped by exact
    length, unpadded: (input_ids, attention_mask, token_type_ids) per length."""
    ids, mask, types, _ = one_window_rows(rr, query, docs, 1 << 40).batch(0)  # one batch: every row
    assert types is not None  # packed with token type ids (the default)
    lengths = mask.sum(axis=1)
    groups = []
    for length in np.unique(lengths):
        sel = lengths == length
        groups.append((ids[sel, :length], mask[sel, :length], types[sel, :length]))
    return groups


def FLOPS(length: int, layers: int = 6, hidden: int = 384, intermediate: int = 1536) -> float:  # noqa: N802
    """Multiply-adds x 2 of one pair of ``length`` real tokens through a BERT-shaped encoder:
    per layer 8*L*H^2 (Q, K, V, output projections) + 4*L*H*I (feed-forward) + 4*L^2*H
    (attention scores and their use). Embedding lookups and the head are free. The defaults
    are MiniLM-L6's."""
    return layers * (8.0 * length * hidden * hidden + 4.0 * length * hidden * intermediate + 4.0 * length * length * hidden)


def encoder_shape(model: Path) -> dict[str, int]:
    """FLOPS' keyword arguments from the model's config.json."""
    config = json.loads((model / "config.json").read_text())
    return {"layers": config["num_hidden_layers"], "hidden": config["hidden_size"], "intermediate": config["intermediate_size"]}


class Ceiling:
    """The same rows fastrerank builds, grouped by exact length (no padding at all), through
    plain ONNX Runtime at several batch token budgets. Tokenization and packing not timed.
    ``fused``: on the fused copy of the graph (the benchmark's workdir/fused) instead of the
    model's own file."""

    BUDGETS = (256, 512, 1024, 2048, 4096)

    def __init__(self, model: Path, threads: int, workdir: Path, fused: bool = False) -> None:
        from fastrerank import Reranker

        self.rr = Reranker(model, threads=threads)
        self.session = _ort_session((workdir / "fused" if fused else model) / "model.onnx", threads)
        self.names = {i.name for i in self.session.get_inputs()}

    def rows(self, query: str, docs: list[str]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        return exact_length_groups(self.rr, query, docs)

    def run(self, groups: list[tuple[np.ndarray, np.ndarray, np.ndarray]], budget: int) -> float:
        start = time.perf_counter()
        for ids, mask, types in groups:
            per = max(1, budget // ids.shape[1])
            for k in range(0, ids.shape[0], per):
                feeds = {"input_ids": ids[k : k + per], "attention_mask": mask[k : k + per]}
                if "token_type_ids" in self.names:
                    feeds["token_type_ids"] = types[k : k + per]
                self.session.run(None, feeds)
        return time.perf_counter() - start


SYSTEMS: dict[str, Callable[[Path, int, Path], Ranker]] = {
    "fastrerank fp32": _fastrerank("fp32"),
    "fastrerank fp32 fused": _fastrerank("fp32", fuse=True),
    "fastrerank fp32 unfused": _fastrerank("fp32", fuse=False),
    "fastrerank int8": _fastrerank("int8", "fused"),
    # the CPU call cost before benchmarks/profile_fp32.py measured it (64 padded tokens; now 16)
    "fastrerank fp32 overhead 64": _fastrerank("fp32", batch_overhead=64),
    "sentence-transformers": _sentence_transformers,
    "fastembed": _fastembed,
    "flashrank": _flashrank,
    "onnxruntime loop": _onnxruntime_loop,
    "host pipeline (null graph)": _fastrerank("fp32", "null"),
}
PEERS = ("sentence-transformers", "fastembed", "flashrank", "onnxruntime loop")
# rows for a one-off comparison: run when named in --systems, not by default
EXPLICIT_ONLY = ("fastrerank fp32 overhead 64",)
# the zero-padding ceilings: plain ONNX Runtime on the model's graph, and on its fused copy
CEILINGS: dict[str, Callable[[Path, int, Path], Ceiling]] = {
    "ceiling": Ceiling,
    "ceiling (fused graph)": lambda model, threads, workdir: Ceiling(model, threads, workdir, fused=True),
}
