"""Admission: one request's plan, in the order the batcher sends its documents.

A request is tokenized once into an :class:`~fastrerank.engine.EncodedRequest` carrying its
document rules (``max_tokens_per_doc``, Cohere v1's ``max_chunks_per_doc``, TEI's
``truncate``). The engine plans it with the core's own rule (windows, longest row and tokens
per document: nothing is re-derived here); admission orders the documents longest row first,
so the batches cut from one request are as little padded as the library's own, and sums the
tokens the queue will hold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fastrerank.engine import DocumentPlan, EncodedRequest, Engine

__all__ = ["Prepared", "prepare"]


@dataclass(frozen=True)
class Prepared:
    """One request, ready for the queue. ``order[k]`` is the input index of the k-th
    dispatched document; ``rows`` and ``row_len`` are in dispatch order."""

    request: EncodedRequest
    plan: DocumentPlan
    order: np.ndarray  # int64, n
    rows: np.ndarray  # int32, n: windows per document
    row_len: np.ndarray  # int32, n: the document's longest row (its first window)
    cum_tokens: np.ndarray  # int64, n + 1: tokens of the first k dispatched documents' rows

    @property
    def tokens(self) -> int:
        """All rows' tokens, special tokens included (Jina's ``usage.total_tokens``)."""
        return int(self.cum_tokens[-1])

    @property
    def n_docs(self) -> int:
        """How many documents the request holds."""
        return len(self.order)


def prepare(engine: Engine, request: EncodedRequest) -> Prepared:
    """The engine's plan of ``request``, its documents ordered longest row first."""
    plan = engine.plan(request)
    order = np.argsort(-plan.first_row_length.astype(np.int64), kind="stable")
    cum_tokens = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(plan.tokens[order], out=cum_tokens[1:])
    return Prepared(request, plan, order, plan.windows[order], plan.first_row_length[order], cum_tokens)
