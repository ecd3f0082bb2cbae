"""A stand-in engine without a model, for measuring the server's own overhead.

It has the interface the server uses (``encode``, ``score_encoded``, ``max_batch_tokens``,
``max_length`` and a BERT-like pair template): one token per whitespace-separated word, and a
made-up score per document that depends on its tokens and its query's. ``delay`` seconds of
sleep per call (the GIL released, as a model would) make it a slow engine for queue tests.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from fastrerank import _core
from fastrerank.reranker import Scored

__all__ = ["StubEngine"]


class StubEngine:
    """Made-up scores at no cost (or ``delay`` seconds per call); never use it to rank."""

    device = "stub"
    precision = "none"

    def __init__(self, *, delay: float = 0.0, max_batch_tokens: int = 1024, max_length: int = 512) -> None:
        self.delay = delay
        self.max_batch_tokens = max_batch_tokens
        self.max_length = max_length
        self.model_path = "stub"
        self._template = _core.PairTemplate(
            prefix=[101], prefix_types=[0], query_type=0, middle=[102], middle_types=[0], doc_type=1, suffix=[102], suffix_types=[1]
        )
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """One token per word, its id 1000 plus the text's length modulo 7."""
        offsets = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum([t.count(" ") + 1 if t else 0 for t in texts], out=offsets[1:])
        flat = np.repeat(np.array([1000 + len(t) % 7 for t in texts], dtype=np.int32), np.diff(offsets))
        return flat, offsets

    def score_encoded(self, query_ids: np.ndarray, query_offsets: np.ndarray, doc_ids: np.ndarray, doc_offsets: np.ndarray, doc_query: np.ndarray | None, **options: Any) -> Scored:
        """A score in [0, 1) from each document's token sum and its query's length (the
        options of ``Reranker.score_encoded`` are accepted and ignored)."""
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        n = len(doc_offsets) - 1
        sums = np.add.reduceat(np.append(doc_ids, 0).astype(np.int64), doc_offsets[:-1]) if n else np.zeros(0, np.int64)
        sums[np.diff(doc_offsets) == 0] = 0
        q = np.diff(query_offsets)[doc_query if doc_query is not None else np.zeros(n, dtype=np.int32)]
        scores = ((sums * 31 + q) % 997).astype(np.float32) / np.float32(997)
        return Scored(scores=scores, windows=np.ones(n, dtype=np.int32))
