"""The response of a rerank call, in the shape of the Cohere Rerank v2 API."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fastrerank import _core

__all__ = [
    "ApiVersion",
    "BilledUnits",
    "Meta",
    "Ranking",
    "RerankResponse",
    "RerankResult",
    "Scored",
    "Span",
    "new_id",
    "ranked",
    "rerank_response",
    "search_units",
]

DOCUMENTS_PER_SEARCH_UNIT = 100


def new_id() -> str:
    """A random (version 4) UUID string, as ``str(uuid.uuid4())`` but without building a UUID
    object: a third of the time, on a path that runs once per call."""
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40  # version 4
    b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def search_units(total_windows: int) -> int:
    """Cohere's billing rule: one unit is one query with up to 100 documents, and a document
    split into k windows counts k. So units = max(1, ceil(windows / 100))."""
    return max(1, math.ceil(total_windows / DOCUMENTS_PER_SEARCH_UNIT))


@dataclass(frozen=True)
class Scored:
    """Every document's score (the best window's, normalised as the engine normalises) and how
    many windows (model rows) it took, in input order: what scoring one request gives."""

    scores: np.ndarray  # float32 [n_docs]
    windows: np.ndarray  # int32 [n_docs]


@dataclass(frozen=True)
class Ranking:
    """The top of a :class:`Scored`, highest first: input indices, their scores (Python
    ints and floats) and the search units the request is billed (see :func:`search_units`)."""

    indices: list[int]
    scores: list[float]
    search_units: int


def ranked(scored: Scored, top_n: int) -> Ranking:
    """The ``top_n`` best documents (``top_n`` < 0 or past the list: all), ties to the lower
    index, and the request's search units: what every response dialect is built from."""
    indices, scores = _core.top_n(scored.scores, top_n)
    return Ranking(indices.tolist(), scores.tolist(), search_units(int(scored.windows.sum())))


@dataclass(frozen=True)
class Span:
    """A relevant span of a returned document (``max_spans``, a fastrerank extension):
    characters ``[start, end)`` of the text that was ranked (the string, or the ``rank_fields``
    rendering of a dict document) and the score of the query against that text alone."""

    start: int
    end: int
    relevance_score: float

    def to_dict(self) -> dict[str, Any]:
        """The span as JSON: ``{"start", "end", "relevance_score"}``."""
        return {"start": self.start, "end": self.end, "relevance_score": self.relevance_score}


@dataclass(frozen=True, init=False)
class RerankResult:
    """One ranked document: its position in the input list and its relevance score.

    ``relevance_score`` is in [0, 1] unless the Reranker was built with ``normalize="none"``
    (then it is the model's raw logit). ``document`` is set only with ``return_documents=True``,
    ``spans`` (highest first) only with ``max_spans`` > 0.
    """

    index: int
    relevance_score: float
    document: dict[str, Any] | None = None
    spans: list[Span] | None = None

    # A response builds one per document: writing the instance dict directly is twice as fast
    # as the generated frozen __init__ (object.__setattr__ per field), same fields and defaults.
    # ``spans`` is left to its class default unless given: no cost when they are not asked for.
    def __init__(self, index: int, relevance_score: float, document: dict[str, Any] | None = None, spans: list[Span] | None = None) -> None:
        fields = self.__dict__
        fields["index"] = index
        fields["relevance_score"] = relevance_score
        fields["document"] = document
        if spans is not None:
            fields["spans"] = spans

    def to_dict(self) -> dict[str, Any]:
        """The result as Cohere JSON: ``{"index", "relevance_score"[, "document"][, "spans"]}``."""
        out: dict[str, Any] = {"index": self.index, "relevance_score": self.relevance_score}
        if self.document is not None:
            out["document"] = self.document
        if self.spans is not None:
            out["spans"] = [s.to_dict() for s in self.spans]
        return out


@dataclass(frozen=True)
class ApiVersion:
    """The API version the response follows (always Cohere v2, not experimental)."""

    version: str = "2"
    is_experimental: bool = False


@dataclass(frozen=True)
class BilledUnits:
    """What Cohere would bill for the call (see :func:`search_units`)."""

    search_units: int = 1


@dataclass(frozen=True)
class Meta:
    """Response metadata: API version and billed units."""

    api_version: ApiVersion = field(default_factory=ApiVersion)
    billed_units: BilledUnits = field(default_factory=BilledUnits)

    def to_dict(self) -> dict[str, Any]:
        """The metadata as Cohere JSON."""
        return {
            "api_version": {
                "version": self.api_version.version,
                "is_experimental": self.api_version.is_experimental,
            },
            "billed_units": {"search_units": self.billed_units.search_units},
        }


@dataclass(frozen=True)
class RerankResponse:
    """The answer to one rerank call: results highest score first, a fresh uuid4 ``id``, and
    ``meta``. ``to_dict()`` is exactly the Cohere v2 JSON (``json.dumps`` works on it)."""

    results: list[RerankResult]
    id: str
    meta: Meta

    def to_dict(self) -> dict[str, Any]:
        """The response as Cohere v2 JSON: ``{"results", "id", "meta"}``."""
        return {
            "results": [r.to_dict() for r in self.results],
            "id": self.id,
            "meta": self.meta.to_dict(),
        }


def rerank_response(
    ranking: Ranking, document: Callable[[int], dict[str, Any]] | None = None, spans: Sequence[list[Span]] | None = None
) -> RerankResponse:
    """The Cohere v2 response of ``ranking``, with a fresh id; ``document(i)`` gives the
    ``document`` of the result for input ``i`` (``return_documents``), ``spans[k]`` the spans of
    the k-th result (``max_spans``)."""
    pairs = zip(ranking.indices, ranking.scores)
    # positional arguments: this runs once per document, and keywords cost a third more
    if spans is not None:
        results = [RerankResult(i, s, None if document is None else document(i), p) for (i, s), p in zip(pairs, spans)]
    elif document is None:
        results = [RerankResult(i, s) for i, s in pairs]
    else:
        results = [RerankResult(i, s, document(i)) for i, s in pairs]
    meta = Meta(api_version=ApiVersion(), billed_units=BilledUnits(search_units=ranking.search_units))
    return RerankResponse(results=results, id=new_id(), meta=meta)
