"""Admission: one request's token ids, cut and costed, in the order the batcher sends them.

A request is tokenized once (query and documents in one call), each document is cut as the
request asks (``max_tokens_per_doc``, Cohere v1's ``max_chunks_per_doc``, TEI's ``truncate``),
and its windows and tokens are counted with the core's own rule (see ``_core.pack``): the query
keeps at most ``query_token_limit`` tokens, a document of n tokens becomes
``max(1, ceil(n / window))`` rows. The documents are then ordered longest row first, so the
batches cut from one request are as little padded as the library's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fastrerank import _core

__all__ = ["Geometry", "Prepared", "gather", "prepare"]


@dataclass(frozen=True)
class Geometry:
    """The window arithmetic of one model: special tokens, window and query limits."""

    max_length: int
    special: int
    query_limit: int

    @classmethod
    def of(cls, engine: Any) -> Geometry:
        template = engine._template  # the Reranker keeps its PairTemplate private
        return cls(engine.max_length, int(template.special_tokens), int(_core.query_token_limit(template, engine.max_length)))

    def window(self, query_tokens: int) -> int:
        """Document tokens per row beside a query of ``query_tokens`` tokens."""
        return self.max_length - self.special - min(query_tokens, self.query_limit)


@dataclass(frozen=True)
class Prepared:
    """One request, ready for the queue. Document arrays are in dispatch order (longest row
    first); ``order[k]`` is the input index of the k-th dispatched document."""

    query_ids: np.ndarray  # int32
    doc_ids: np.ndarray  # int32, flat
    doc_offsets: np.ndarray  # int64, n + 1
    order: np.ndarray  # int64, n
    rows: np.ndarray  # int64, n: windows per document
    row_len: np.ndarray  # int64, n: the document's longest row (its first window)
    cum_tokens: np.ndarray  # int64, n + 1: tokens of the first k dispatched documents' rows

    @property
    def tokens(self) -> int:
        """All rows' tokens, special tokens included (Jina's ``usage.total_tokens``)."""
        return int(self.cum_tokens[-1])

    @property
    def n_docs(self) -> int:
        return len(self.order)


def gather(ids: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ragged array made of ``ids[starts[i] : starts[i] + lengths[i]]`` for every i."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    lengths.cumsum(out=offsets[1:])
    index = np.arange(offsets[-1], dtype=np.int64)
    index += np.repeat(starts - offsets[:-1], lengths)
    return ids[index], offsets


def prepare(
    geometry: Geometry,
    ids: np.ndarray,
    offsets: np.ndarray,
    *,
    keep_tokens: int,
    keep_windows: int | None = None,
    keep_end: bool = False,
) -> Prepared:
    """``ids``/``offsets``: the encoding of ``[query, *documents]`` in one call. Each document
    keeps its first ``keep_tokens`` tokens (its last ones with ``keep_end``) and at most
    ``keep_windows`` windows."""
    query_ids = ids[offsets[0] : offsets[1]]
    q = min(len(query_ids), geometry.query_limit)
    window = geometry.window(q)
    keep = keep_tokens if keep_windows is None else min(keep_tokens, keep_windows * window)

    starts = offsets[1:-1]
    cut = offsets[2:] - starts
    if keep_end:
        starts = starts + np.maximum(cut - keep, 0)
    np.minimum(cut, keep, out=cut)
    rows = (cut + (window - 1)) // window
    np.maximum(rows, 1, out=rows)
    row_len = np.minimum(cut, window)
    row_len += geometry.special + q

    order = (-row_len).argsort(kind="stable")
    rows, cut = rows[order], cut[order]
    doc_ids, doc_offsets = gather(ids, starts[order], cut)
    cum_tokens = np.zeros(len(order) + 1, dtype=np.int64)
    (rows * (geometry.special + q) + cut).cumsum(out=cum_tokens[1:])
    return Prepared(query_ids, doc_ids, doc_offsets, order, rows, row_len[order], cum_tokens)
