"""A stand-in engine without a model, for measuring the server's own overhead.

It is an :class:`~fastrerank.engine.Engine` with a BERT-like pair template: one token per
whitespace-separated word, windows planned by the core as for a model, and a made-up score per
document that depends on its tokens and its query's. ``delay`` seconds of sleep per call (the
GIL released, as a model would) make it a slow engine for queue tests.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from fastrerank import _core
from fastrerank.engine import DEFAULT_LIMITS, DocumentLimits, DocumentPlan, EncodedRequest, plan_request
from fastrerank.types import Scored

__all__ = ["StubEngine"]

BERT_LIKE = _core.PairTemplate(
    prefix=[101], prefix_types=[0], query_type=0, middle=[102], middle_types=[0], doc_type=1, suffix=[102], suffix_types=[1]
)


class StubEngine:
    """Made-up scores at no cost (or ``delay`` seconds per call); never use it to rank."""

    device = "stub"
    precision = "none"
    threads = 1
    model_path = "stub"
    template = BERT_LIKE

    def __init__(self, *, delay: float = 0.0, max_batch_tokens: int = 1024, max_length: int = 512) -> None:
        self.delay = delay
        self.max_batch_tokens = max_batch_tokens
        self.max_length = max_length
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """One token per word, its id 1000 plus the text's length modulo 7."""
        offsets = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum([t.count(" ") + 1 if t else 0 for t in texts], out=offsets[1:])
        flat = np.repeat(np.array([1000 + len(t) % 7 for t in texts], dtype=np.int32), np.diff(offsets))
        return flat, offsets

    def encode_request(self, query: str, documents: Sequence[str], limits: DocumentLimits = DEFAULT_LIMITS) -> EncodedRequest:
        """The query's and documents' ids as :meth:`encode` makes them."""
        query_ids, _ = self.encode([query])
        doc_ids, doc_offsets = self.encode(documents)
        return EncodedRequest(query_ids, doc_ids, doc_offsets, limits)

    def char_offsets(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Each word's characters (the words :meth:`encode` counts: cut at every space)."""
        chars: list[tuple[int, int]] = []
        offsets = [0]
        for t in texts:
            if t:
                at = 0
                for word in t.split(" "):
                    chars.append((at, at + len(word)))
                    at += len(word) + 1
            offsets.append(len(chars))
        return np.array(chars, dtype=np.int64).reshape(-1, 2), np.array(offsets, dtype=np.int64)

    def plan(self, request: EncodedRequest) -> DocumentPlan:
        """The core's plan, as for a BERT model with this window."""
        return plan_request(request, self.template, self.max_length)

    def score_encoded(self, requests: Sequence[EncodedRequest], *, normalize: str | None = None) -> list[Scored]:
        """A score in [0, 1) from each document's token sum and its query's length; windows
        as the core plans them (``normalize`` is accepted and ignored)."""
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        out = []
        for r in requests:
            n = r.n_docs
            starts = r.doc_offsets[:-1]
            sums = np.add.reduceat(np.append(r.doc_ids, 0).astype(np.int64), starts) if n else np.zeros(0, np.int64)
            sums[np.diff(r.doc_offsets) == 0] = 0
            scores = ((sums * 31 + len(r.query_ids)) % 997).astype(np.float32) / np.float32(997)
            out.append(Scored(scores, self.plan(r).windows))
        return out
