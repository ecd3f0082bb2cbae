"""The engine seam: what a reranking engine offers the layers above it (the server, the
integrations, the benchmarks), and the request type that crosses it.

A request is tokenized once (:meth:`Engine.encode_request`) into an :class:`EncodedRequest`:
token ids plus the rules for how much of each document is kept. The engine plans it
(:meth:`Engine.plan`, the core's own rule: no caller re-derives windows) and scores any number
of requests together (:meth:`Engine.score_encoded`), all their pairs sharing token-budget
batches. :class:`~fastrerank.Reranker` is the engine; the server's stub engine is another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from fastrerank import _core, inputs
from fastrerank.defaults import DEFAULT_MAX_TOKENS_PER_DOC, DEFAULT_TRUNCATION_SIDE
from fastrerank.types import Scored

__all__ = [
    "DEFAULT_LIMITS",
    "DocumentLimits",
    "DocumentPlan",
    "EncodedRequest",
    "Engine",
    "concatenate",
    "core_limits",
    "pack",
    "plan_request",
]


@dataclass(frozen=True)
class DocumentLimits:
    """How much of each document of a request its rows keep (see
    :meth:`fastrerank.Reranker.rerank`): its first ``max_tokens_per_doc`` tokens, at most
    ``max_windows_per_doc`` windows of them (None: every window), from its start
    (``truncation_side="right"``, the default: cut the end) or its end (``"left"``). Checked
    when made: TypeError / ValueError naming the field."""

    max_tokens_per_doc: int = DEFAULT_MAX_TOKENS_PER_DOC
    max_windows_per_doc: int | None = None
    truncation_side: str = DEFAULT_TRUNCATION_SIDE

    def __post_init__(self) -> None:
        object.__setattr__(self, "max_tokens_per_doc", inputs.check_max_tokens_per_doc(self.max_tokens_per_doc))
        object.__setattr__(self, "max_windows_per_doc", inputs.check_max_windows_per_doc(self.max_windows_per_doc))
        object.__setattr__(self, "truncation_side", inputs.check_truncation_side(self.truncation_side))

    @property
    def core(self) -> tuple[int, int, bool]:
        """(max_tokens_per_doc, max_windows_per_doc, keep_end) as the core takes them: past its
        int64, a limit is no limit."""
        windows = self.max_windows_per_doc
        return (
            min(self.max_tokens_per_doc, _core.NO_LIMIT),
            _core.NO_LIMIT if windows is None else min(windows, _core.NO_LIMIT),
            self.truncation_side == "left",
        )


DEFAULT_LIMITS = DocumentLimits()


@dataclass(frozen=True)
class EncodedRequest:
    """One query and its documents as token ids (no special tokens), with the limits on how
    much of each document its rows keep. ``doc_ids`` is flat; document ``i`` is
    ``doc_ids[doc_offsets[i]:doc_offsets[i + 1]]``."""

    query_ids: np.ndarray  # int32 [query tokens]
    doc_ids: np.ndarray  # int32, flat
    doc_offsets: np.ndarray  # int64 [n_docs + 1]
    limits: DocumentLimits = DEFAULT_LIMITS

    @property
    def n_docs(self) -> int:
        """How many documents the request holds."""
        return len(self.doc_offsets) - 1

    def subset(self, docs: np.ndarray) -> EncodedRequest:
        """The same request with only documents ``docs`` (indices, in that order): their ids
        gathered into one new flat array."""
        starts = self.doc_offsets[docs]
        lengths = self.doc_offsets[docs + 1] - starts
        offsets = np.zeros(len(docs) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        index = np.arange(offsets[-1], dtype=np.int64)
        index += np.repeat(starts - offsets[:-1], lengths)
        return replace(self, doc_ids=self.doc_ids[index], doc_offsets=offsets)


@dataclass(frozen=True)
class DocumentPlan:
    """What the core makes of every document of one request, before any row is built: the
    query's kept tokens, and per document (arrays in input order) the first kept token, how
    many are kept, its rows (windows), its longest row's length (its first window's) and
    all its rows' tokens, special and query tokens included."""

    query_tokens: int
    first: np.ndarray  # int64
    kept: np.ndarray  # int64
    windows: np.ndarray  # int32
    first_row_length: np.ndarray  # int32
    tokens: np.ndarray  # int64

    @property
    def total_tokens(self) -> int:
        """Every row's tokens: what the model reads for this request."""
        return int(self.tokens.sum())


class Engine(Protocol):
    """What the server, the integrations and the benchmarks use of an engine."""

    @property
    def model_path(self) -> Path | str:
        """Where the model came from."""

    @property
    def device(self) -> str:
        """Where it runs: ``"cpu"`` or ``"cuda"`` (the stub: ``"stub"``)."""

    @property
    def precision(self) -> str:
        """Which model file runs: ``"fp32"``, ``"int8"`` or ``"fp16"``."""

    @property
    def threads(self) -> int:
        """Intra-op threads of the model."""

    @property
    def max_length(self) -> int:
        """The model window in tokens, special tokens included."""

    @property
    def max_batch_tokens(self) -> int:
        """Padded tokens per model call."""

    def encode_request(self, query: str, documents: Sequence[str], limits: DocumentLimits = DEFAULT_LIMITS) -> EncodedRequest:
        """Tokenizes a query and its documents' texts."""

    def char_offsets(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Where each token of each text is in it: int64 [tokens, 2] (start, end) characters,
        the tokens :meth:`encode_request` gives, and int64 offsets (``len(texts) + 1``)."""

    def plan(self, request: EncodedRequest) -> DocumentPlan:
        """What every document of ``request`` becomes (the core's rule)."""

    def score_encoded(self, requests: Sequence[EncodedRequest], *, normalize: str | None = None) -> list[Scored]:
        """Scores every request's documents, all pairs in shared batches; one result each."""


def concatenate(requests: Sequence[EncodedRequest]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """The requests as one multi-query call of the core: (query_ids, query_offsets, doc_ids,
    doc_offsets, doc_query); one request's arrays go through without a copy (doc_query None)."""
    if len(requests) == 1:
        r = requests[0]
        return r.query_ids, np.array([0, len(r.query_ids)], dtype=np.int64), r.doc_ids, r.doc_offsets, None
    query_offsets = np.zeros(len(requests) + 1, dtype=np.int64)
    np.cumsum([len(r.query_ids) for r in requests], out=query_offsets[1:])
    counts = np.array([r.n_docs for r in requests], dtype=np.int64)
    doc_offsets = np.zeros(int(counts.sum()) + 1, dtype=np.int64)
    at = 0
    base = 0
    for r in requests:
        n = r.n_docs
        doc_offsets[at + 1 : at + n + 1] = r.doc_offsets[1:] - r.doc_offsets[0] + base
        base += int(r.doc_offsets[-1] - r.doc_offsets[0])
        at += n
    doc_ids = np.concatenate([r.doc_ids[r.doc_offsets[0] : r.doc_offsets[-1]] for r in requests]) if requests else np.zeros(0, np.int32)
    query_ids = np.concatenate([r.query_ids for r in requests])
    doc_query = np.repeat(np.arange(len(requests), dtype=np.int32), counts)
    return query_ids, query_offsets, doc_ids.astype(np.int32, copy=False), doc_offsets, doc_query


def core_limits(requests: Sequence[EncodedRequest]) -> dict[str, Any]:
    """The core's per-query document limits of ``requests``: keyword arguments of
    ``_core.pack`` / ``_core.plan_documents``, scalars when every request has the same."""
    first = requests[0].limits
    if all(r.limits is first for r in requests) or len({r.limits for r in requests}) == 1:
        tokens, windows, keep_end = first.core
        return {"max_tokens_per_doc": tokens, "max_windows_per_doc": windows, "keep_end": keep_end}
    tokens_each, windows_each, keep_end_each = zip(*(r.limits.core for r in requests))
    return {
        "max_tokens_per_doc": np.array(tokens_each, dtype=np.int64),
        "max_windows_per_doc": np.array(windows_each, dtype=np.int64),
        "keep_end": np.array(keep_end_each, dtype=np.bool_),
    }


def plan_request(request: EncodedRequest, template: _core.PairTemplate, max_length: int) -> DocumentPlan:
    """:meth:`Engine.plan` for an engine with this pair template and window."""
    query_offsets = np.array([0, len(request.query_ids)], dtype=np.int64)
    query_tokens, first, kept, windows, first_row_length, tokens = _core.plan_documents(
        query_offsets, request.doc_offsets, template, max_length=max_length, **core_limits([request])
    )
    return DocumentPlan(int(query_tokens[0]), first, kept, windows, first_row_length, tokens)


def pack(
    requests: Sequence[EncodedRequest],
    template: _core.PairTemplate,
    *,
    max_length: int,
    max_batch_tokens: int,
    pad_id: int = 0,
    token_type_ids: bool = True,
    batch_overhead: int = -1,
) -> _core.PackPlan:
    """The core's packing plan of ``requests`` together (one multi-query call), each with its
    own document limits; its documents are the requests' in order."""
    query_ids, query_offsets, doc_ids, doc_offsets, doc_query = concatenate(requests)
    return _core.pack(
        query_ids,
        doc_ids,
        doc_offsets,
        template,
        max_length=max_length,
        max_batch_tokens=max_batch_tokens,
        pad_id=pad_id,
        token_type_ids=token_type_ids,
        query_offsets=query_offsets,
        doc_query=doc_query,
        batch_overhead=batch_overhead,
        **core_limits(requests),
    )
