"""The wire formats: request and response types of every route, decoded and encoded by msgspec.

msgspec checks structure and types (a wrong type is a 400 naming the JSON path); values are
checked afterwards with the library's own checks (:mod:`fastrerank.inputs`), so the server and
``Reranker.rerank`` say the same thing about the same mistake. Unknown fields are ignored, as the
Cohere, Jina and TEI servers do. ``extra_json_schema`` only documents a constraint in
``/openapi.json``; it does not change what the decoder accepts.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from fastrerank.defaults import DEFAULT_MAX_TOKENS_PER_DOC, DEFAULT_SPAN_TOKENS
from fastrerank.inputs import MAX_RANK_FIELDS
from fastrerank.types import Span

__all__ = [
    "ErrorBody",
    "RelevantSpans",
    "TEIRerankRequest",
    "TEIResult",
    "Usage",
    "V1RerankRequest",
    "V1RerankResponse",
    "V1Result",
    "V2RerankRequest",
]

Query = Annotated[str, msgspec.Meta(description="The search query.", extra_json_schema={"minLength": 1, "pattern": r"\S"})]
# JSON Schema's integers include 3.0: int fields decode ints and floats, the server takes an
# integral float as its int and refuses any other (openapi.py documents them as integers).
Integer = int | float
TopN = Annotated[
    Integer | None,
    msgspec.Meta(description="How many results to return; all when absent.", extra_json_schema={"minimum": 1}),
]
MaxTokensPerDoc = Annotated[
    Integer | None,
    msgspec.Meta(
        description=(
            f"A document is cut to this many tokens (default {DEFAULT_MAX_TOKENS_PER_DOC}), then split into windows "
            "that fit the model; its score is its best window's."
        ),
        extra_json_schema={"minimum": 1},
    ),
]
Priority = Annotated[
    Integer | None,
    msgspec.Meta(
        description="Lower is served earlier (default 0, the highest priority).",
        extra_json_schema={"minimum": 0},
    ),
]
MaxSpans = Annotated[
    Integer | None,
    msgspec.Meta(
        description=(
            "fastrerank extension: give each result `spans`, its best max_spans segments (sentences merged up to "
            "span_tokens tokens), highest first: [start, end) characters of the ranked text and the query's score "
            "against that text alone. 0 or absent: none. Scores and order do not change."
        ),
        extra_json_schema={"minimum": 0},
    ),
]
SpanTokens = Annotated[
    Integer | None,
    msgspec.Meta(
        description=f"fastrerank extension: the most tokens of one span's segment (default {DEFAULT_SPAN_TOKENS}).",
        extra_json_schema={"minimum": 1},
    ),
]
Model = Annotated[str | None, msgspec.Meta(description="Accepted for compatibility; the server runs one model.")]
Document = str | dict[str, Any]


class RelevantSpans(msgspec.Struct, kw_only=True):
    """Cohere's ``relevant_spans`` option (Rerank v5 models only); ``"enabled"`` is refused (422)."""

    mode: Literal["enabled", "disabled"] = "disabled"
    threshold: float | None = None
    max_spans: Integer | None = None


class V2RerankRequest(msgspec.Struct, kw_only=True):
    """``POST /v2/rerank``: Cohere Rerank v2."""

    query: Query
    documents: Annotated[list[str], msgspec.Meta(description="The texts to rank.")]
    model: Model = None
    top_n: TopN = None
    max_tokens_per_doc: MaxTokensPerDoc = None
    priority: Priority = None
    relevant_spans: RelevantSpans | None = None
    max_spans: MaxSpans = None
    span_tokens: SpanTokens = None


class V1RerankRequest(msgspec.Struct, kw_only=True):
    """``POST /v1/rerank``: Cohere Rerank v1 and Jina (also ``POST /rerank`` with ``documents``)."""

    query: Query
    documents: Annotated[
        list[Document],
        msgspec.Meta(description="Strings, or objects ranked on their rank_fields (as `key: value` lines) or their `text` field."),
    ]
    model: Model = None
    top_n: TopN = None
    rank_fields: Annotated[
        list[str] | None,
        msgspec.Meta(
            description="For object documents: the fields to rank on, in order, each once.",
            extra_json_schema={"minItems": 1, "maxItems": MAX_RANK_FIELDS, "uniqueItems": True},
        ),
    ] = None
    return_documents: Annotated[
        bool | None,
        msgspec.Meta(
            description="Add each document to its result; default: the server's (false, Cohere's; true with --v1-return-documents, Jina's)."
        ),
    ] = None
    max_chunks_per_doc: Annotated[
        Integer | None,
        msgspec.Meta(description="At most this many windows per document (Cohere v1; default 10).", extra_json_schema={"minimum": 1}),
    ] = None
    max_tokens_per_doc: MaxTokensPerDoc = None
    priority: Priority = None
    max_spans: MaxSpans = None
    span_tokens: SpanTokens = None


class TEIRerankRequest(msgspec.Struct, kw_only=True):
    """``POST /rerank``: Hugging Face text-embeddings-inference. A body with ``documents`` instead
    of ``texts`` is a Cohere-shaped request (:class:`V1RerankRequest`), as vLLM and infinity do."""

    query: Query
    texts: Annotated[list[str], msgspec.Meta(description="The texts to rank.")]
    truncate: Annotated[
        bool | None,
        msgspec.Meta(description="Cut each text to one model window; default: score every window and keep the best."),
    ] = None
    truncation_direction: Annotated[
        Literal["Right", "Left", "right", "left"],
        msgspec.Meta(description="With truncate: keep the start (Right) or the end (Left) of each text."),
    ] = "Right"
    raw_scores: Annotated[bool, msgspec.Meta(description="Raw logits instead of scores in [0, 1].")] = False
    return_text: Annotated[bool, msgspec.Meta(description="Add each text to its result.")] = False


class V1Result(msgspec.Struct, omit_defaults=True):
    index: int
    relevance_score: float
    document: dict[str, Any] | None = None
    spans: list[Span] | None = None  # with max_spans (fastrerank.types.Span)


class Usage(msgspec.Struct):
    total_tokens: int


class V1RerankResponse(msgspec.Struct):
    """A superset of what Cohere v1 and Jina clients read: ``id``, ``results``, ``meta`` (Cohere),
    ``model``, ``usage.total_tokens`` (Jina)."""

    id: str
    results: list[V1Result]
    meta: dict[str, Any]  # fastrerank.types.Meta.to_dict(), version "1"
    model: str
    usage: Usage


class TEIResult(msgspec.Struct, omit_defaults=True):
    index: int
    score: float
    text: str | None = None


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """Every error: ``message``. On ``/rerank`` (TEI) also ``error`` and ``error_type``."""

    message: str
    error: str | None = None
    error_type: str | None = None
