"""The Reranker: query + documents -> Cohere v2 ranking, through ONNX Runtime and the C++ core."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import numpy as np

from fastrerank import _core, fusion, inputs, models, spans, tokenization
from fastrerank.cpu import thread_grant
from fastrerank.defaults import (
    DEFAULT_BATCH_OVERHEAD,
    DEFAULT_BATCH_TOKENS,
    DEFAULT_DEVICE,
    DEFAULT_FUSE,
    DEFAULT_MAX_TOKENS_PER_DOC,
    DEFAULT_NORMALIZE,
    DEFAULT_PRECISION,
    DEFAULT_SPAN_TOKENS,
    DEFAULT_TOKEN_CACHE_BYTES,
    DEFAULT_TRUNCATION_SIDE,
    SCORE_PAIRS_CHUNK_CHARS,
    SCORE_PAIRS_CHUNK_PAIRS,
)
from fastrerank.engine import DEFAULT_LIMITS, DocumentLimits, DocumentPlan, EncodedRequest, pack, plan_request
from fastrerank.session import Session, cuda_listed, parse_device
from fastrerank.token_cache import TokenCache
from fastrerank.types import Ranking, RerankResponse, Scored, Span, ranked, rerank_response

__all__ = ["Reranker", "RerankerStats"]

Documents = Sequence[str] | Sequence[dict[str, Any]]
THREADS_ARGUMENT = "threads argument"  # Reranker.threads_rule when threads= was given
_P = ParamSpec("_P")
_T = TypeVar("_T")
_S = TypeVar("_S")


def _on_worker_thread(method: Callable[Concatenate[_S, _P], _T]) -> Callable[Concatenate[_S, _P], Coroutine[Any, Any, _T]]:
    """``method`` run by ``asyncio.to_thread``: same arguments, awaitable."""

    @functools.wraps(method)
    async def run(self: _S, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        return await asyncio.to_thread(method, self, *args, **kwargs)

    return run


@dataclass(frozen=True)
class RerankerStats:
    """What a Reranker has done since it was made: model calls and the seconds inside them,
    and its token cache's hits and misses (documents) and size."""

    model_calls: int
    model_seconds: float
    cache_hits: int
    cache_misses: int
    cache_bytes: int


class Reranker:
    """Ranks documents by relevance to a query with a cross-encoder.

    Args:
        model: a model directory holding ``model.onnx`` (or a precision variant),
            ``tokenizer.json`` and ``config.json``; or a Hub name such as
            ``"cross-encoder/ms-marco-MiniLM-L6-v2"``, found in fastrerank's export cache or
            the Hugging Face cache, else downloaded (extra ``hub``).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (CUDA when it is there). Asking
            for CUDA where it cannot run raises :class:`~fastrerank.session.DeviceNotAvailableError`;
            it never falls back to the CPU silently.
        precision: ``"fp32"`` (``model.onnx``), ``"int8"`` (``model_int8.onnx``) or ``"fp16"``
            (``model_fp16.onnx``, for CUDA). int8 and fp16 trade exactness for speed.
        threads: ONNX Runtime intra-op threads; default: what the machine grants this process,
            the smallest of its physical cores, its cgroup CPU quota and ``OMP_NUM_THREADS``
            (:func:`fastrerank.cpu.thread_grant`; :attr:`threads_rule` says which decided).
            Tokenization (the native fast path) splits big batches over as many: it runs
            before the model, not beside it.
        max_length: the model window in tokens, special tokens included; default: the model's
            ``max_position_embeddings`` minus its position offset (BERT 512, XLM-R 514 -> 512).
        max_batch_tokens: padded tokens per model call; default 1024 on CPU, 16384 on CUDA.
        normalize: how logits become scores: ``"auto"`` (sigmoid for one logit, softmax's
            positive class for two), ``"sigmoid"``, ``"softmax"``, or ``"none"`` (raw logits:
            scores are then not bounded to [0, 1]).
        token_cache_bytes: memory for cached token ids of texts seen before (documents come
            back query after query); 0 turns the cache off.
        batch_overhead: what one more model call costs, in padded tokens: batches are cut to
            minimise calls x this + padded tokens (default 64 on CPU); -1 fills every batch to
            the budget (the CUDA default).
        fuse: True runs fp32 on CPU on ONNX Runtime's fused copy of the graph (made once per
            model file and cached in $FASTRERANK_HOME/fused, used only when its logits match the
            model's within 1e-5; needs the ``onnx`` package); False (default) runs the file as it is.

    Every option is checked before the model is loaded. One Reranker may be shared by many
    threads; their calls run in parallel.
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        device: str = DEFAULT_DEVICE,
        precision: str = DEFAULT_PRECISION,
        threads: int | None = None,
        max_length: int | None = None,
        max_batch_tokens: int | None = None,
        normalize: str = DEFAULT_NORMALIZE,
        token_cache_bytes: int = DEFAULT_TOKEN_CACHE_BYTES,
        batch_overhead: int | None = None,
        fuse: bool = DEFAULT_FUSE,
    ) -> None:
        self._normalize = inputs.check_normalize(normalize)
        parse_device(device)
        models.check_precision(precision)
        threads = _check_optional_int(threads, "threads", 1, "ONNX Runtime threads")
        max_batch_tokens = _check_optional_int(max_batch_tokens, "max_batch_tokens", 1, "padded tokens per model call")
        batch_overhead = _check_optional_int(
            batch_overhead, "batch_overhead", None, "padded tokens per model call", most=_core.MAX_BATCH_OVERHEAD
        )
        max_length = _check_optional_int(max_length, "max_length", 1, "tokens")
        inputs.check_flag(fuse, "fuse")
        self._token_cache = TokenCache(token_cache_bytes)
        self._threads, self._threads_rule = (threads, THREADS_ARGUMENT) if threads else thread_grant()

        files = models.resolve(model, precision)
        self._model_path: Path = files.directory
        self._precision = precision
        # Tokenization runs before the model, never beside it: it may use the same threads.
        self._tokenizer = tokenization.load(files.tokenizer, threads=self._threads)
        self._template = self._tokenizer.pair_template
        window = models.max_length_from_config(files.config)
        if files.entry is not None:
            window = min(window or files.entry.max_length, files.entry.max_length)
        self._max_length = _check_max_length(max_length, window, self._template.special_tokens)

        self._model_file: Path = files.onnx
        onnx = files.onnx
        if fuse and precision == "fp32" and _runs_on_cpu(device):
            onnx = fusion.fused_copy(files.onnx, files.config) or files.onnx
        self._session = Session(onnx, device=device, threads=self._threads)
        self._device: str = self._session.device
        self._max_batch_tokens: int = max_batch_tokens or DEFAULT_BATCH_TOKENS[self._device]
        self._batch_overhead: int = DEFAULT_BATCH_OVERHEAD[self._device] if batch_overhead is None else batch_overhead
        if normalize == "softmax" and self._session.num_logits == 1:
            raise ValueError(
                "normalize='softmax' needs a model with two logits (negative, positive); this one gives one: use 'sigmoid' or 'none'"
            )

    # ---- what it is ----------------------------------------------------------------------------

    @property
    def model_path(self) -> Path:
        """The model directory."""
        return self._model_path

    @property
    def model_file(self) -> Path:
        """The model's ONNX file (``model.onnx``, ``model_int8.onnx``, ...)."""
        return self._model_file

    @property
    def session_file(self) -> Path:
        """The ONNX file ONNX Runtime runs: :attr:`model_file`, or for fp32 on CPU its fused
        copy in $FASTRERANK_HOME/fused (``fuse=``)."""
        return self._session.model_path

    @property
    def device(self) -> str:
        """Where the model runs: ``"cpu"`` or ``"cuda"`` (``device="auto"`` tells here which)."""
        return self._device

    @property
    def precision(self) -> str:
        """``"fp32"``, ``"int8"`` or ``"fp16"``."""
        return self._precision

    @property
    def threads(self) -> int:
        """ONNX Runtime intra-op threads of this Reranker."""
        return self._threads

    @property
    def threads_rule(self) -> str:
        """What decided :attr:`threads`: ``"threads argument"``, or the rule of
        :func:`fastrerank.cpu.thread_grant` (``"physical cores"``, ``"cgroup CPU quota"``,
        ``"OMP_NUM_THREADS"``)."""
        return self._threads_rule

    @property
    def max_length(self) -> int:
        """The model window in tokens, special tokens included."""
        return self._max_length

    @property
    def max_batch_tokens(self) -> int:
        """Padded tokens per model call."""
        return self._max_batch_tokens

    @property
    def batch_overhead(self) -> int:
        """What one more model call costs, in padded tokens (-1: fill every batch)."""
        return self._batch_overhead

    @property
    def normalize(self) -> str:
        """How logits become scores."""
        return self._normalize

    @property
    def num_logits(self) -> int | None:
        """Logits the model gives per pair (1 or 2; None until known for a symbolic shape)."""
        return self._session.num_logits

    @property
    def has_token_type_ids(self) -> bool:
        """Whether the model reads token_type_ids (BERT does, XLM-R does not)."""
        return self._session.has_token_type_ids

    @property
    def template(self) -> _core.PairTemplate:
        """The pair template read from the tokenizer: where the special tokens go."""
        return self._template

    @property
    def tokenizer(self) -> tokenization.Tokenizer:
        """The model's tokenizer (ids without special tokens; see :mod:`fastrerank.tokenization`)."""
        return self._tokenizer

    def stats(self) -> RerankerStats:
        """Model calls and seconds so far, and the token cache's counts."""
        cache = self._token_cache
        return RerankerStats(self._session.run_calls, self._session.run_seconds, cache.hits, cache.misses, cache.bytes)

    def clear_token_cache(self) -> None:
        """Forgets every cached document's token ids."""
        self._token_cache.clear()

    # ---- ranking -------------------------------------------------------------------------------

    def rerank(
        self,
        query: str,
        documents: Documents,
        top_n: int | None = None,
        max_tokens_per_doc: int = DEFAULT_MAX_TOKENS_PER_DOC,
        *,
        rank_fields: Sequence[str] | None = None,
        return_documents: bool = False,
        max_windows_per_doc: int | None = None,
        truncation_side: str = DEFAULT_TRUNCATION_SIDE,
        max_spans: int = 0,
        span_tokens: int = DEFAULT_SPAN_TOKENS,
    ) -> RerankResponse:
        """Ranks ``documents`` by relevance to ``query``, highest first.

        Args:
            query: the search query (a non-empty string).
            documents: strings (Cohere v2), or dicts (Cohere v1) ranked on their ``rank_fields``
                as ``key: value`` lines, or on their ``text`` field without ``rank_fields``.
            top_n: how many results to return; None (default) returns all.
            max_tokens_per_doc: a document is cut to this many tokens, then split into windows
                that fit the model with the query; its score is the best window's.
            rank_fields: for dict documents, the fields to rank on, in order.
            return_documents: add ``document`` (``{"text": ...}``, or the dict) to each result.
            max_windows_per_doc: score at most this many windows of each document (Cohere v1's
                ``max_chunks_per_doc``); None scores every window.
            truncation_side: which end of a document is cut: ``"right"`` keeps its start (the
                default), ``"left"`` its end (TEI's ``truncation_direction``).
            max_spans: give each returned result ``spans``: its best ``max_spans`` segments,
                highest first, as character ranges of the ranked text (the string, or the
                ``rank_fields`` rendering) with the query's score against each alone (see
                :mod:`fastrerank.spans`). 0 (the default) computes none. Scores and order do
                not change; the segments of the returned documents are scored in a second pass.
            span_tokens: the most tokens of one segment (sentences are merged up to it, longer
                ones split).

        Returns:
            A :class:`RerankResponse`; ``.to_dict()`` is the Cohere v2 JSON.

        Raises:
            TypeError, ValueError: a bad argument, named in the message.
        """
        return self._rank(
            [(query, documents)],
            top_n,
            max_tokens_per_doc,
            rank_fields,
            return_documents,
            max_windows_per_doc,
            truncation_side,
            False,
            max_spans,
            span_tokens,
        )[0]

    arerank = _on_worker_thread(rerank)
    arerank.__doc__ = """:meth:`rerank` on a worker thread, so the event loop keeps running (same arguments)."""

    def rerank_many(
        self,
        requests: Sequence[tuple[str, Documents]],
        top_n: int | None | Sequence[int | None] = None,
        max_tokens_per_doc: int | Sequence[int] = DEFAULT_MAX_TOKENS_PER_DOC,
        *,
        rank_fields: Sequence[str] | None = None,
        return_documents: bool = False,
        max_windows_per_doc: int | None | Sequence[int | None] = None,
        truncation_side: str = DEFAULT_TRUNCATION_SIDE,
        max_spans: int | Sequence[int] = 0,
        span_tokens: int | Sequence[int] = DEFAULT_SPAN_TOKENS,
    ) -> list[RerankResponse]:
        """Ranks several (query, documents) requests in one pass: all their pairs are packed
        together, so short requests fill each other's batches. Same arguments and checks as
        :meth:`rerank`, applied to every request; ``top_n``, ``max_tokens_per_doc``,
        ``max_windows_per_doc``, ``max_spans`` and ``span_tokens`` may also be lists with one
        value per request. Returns one response per request, in order."""
        if isinstance(requests, (str, bytes)) or not isinstance(requests, Sequence):
            raise TypeError(f"requests must be a list of (query, documents) pairs, got {type(requests).__name__}")
        return self._rank(
            requests,
            top_n,
            max_tokens_per_doc,
            rank_fields,
            return_documents,
            max_windows_per_doc,
            truncation_side,
            True,
            max_spans,
            span_tokens,
        )

    def _rank(
        self,
        requests: Sequence[tuple[str, Documents]],
        top_n: Any,
        max_tokens_per_doc: Any,
        rank_fields: Sequence[str] | None,
        return_documents: bool,
        max_windows_per_doc: Any,
        truncation_side: str,
        name_requests: bool,
        max_spans: Any,
        span_tokens: Any,
    ) -> list[RerankResponse]:
        """rerank_many's work; ``name_requests``: say which request a bad value is in."""
        n = len(requests)
        cuts = [inputs.check_top_n(t) for t in _each(top_n, n, "top_n")]
        keeps = _each(max_tokens_per_doc, n, "max_tokens_per_doc")
        caps = _each(max_windows_per_doc, n, "max_windows_per_doc")
        limits = [_limits(k, w, truncation_side) for k, w in zip(keeps, caps)]
        inputs.check_flag(return_documents, "return_documents")
        span_counts = [inputs.check_max_spans(m) for m in _each(max_spans, n, "max_spans")]
        span_sizes = [inputs.check_span_tokens(t) for t in _each(span_tokens, n, "span_tokens")]
        encoded, texts_each = [], []
        for i, request in enumerate(requests):
            if not isinstance(request, (tuple, list)) or len(request) != 2:
                raise TypeError(f"requests[{i}] must be a (query, documents) pair")
            try:
                query = inputs.check_query(request[0])
                texts = inputs.document_texts(request[1], rank_fields)
            except (TypeError, ValueError) as e:
                raise type(e)(f"requests[{i}]: {e}" if name_requests else str(e)) from e
            encoded.append(self._encode(query, texts, limits[i]))
            texts_each.append(texts)
        rankings = [ranked(s, cut) for s, cut in zip(self.score_encoded(encoded), cuts)]
        spans_each: list[list[list[Span]] | None] = [None] * n
        if any(span_counts):
            spans_each = self._spans(encoded, texts_each, rankings, span_counts, span_sizes)
        return [
            self._response(ranking, r[1] if return_documents else None, found) for ranking, r, found in zip(rankings, requests, spans_each)
        ]

    def _spans(
        self,
        encoded: list[EncodedRequest],
        texts_each: list[list[str]],
        rankings: list[Ranking],
        span_counts: list[int],
        span_sizes: list[int],
    ) -> list[list[list[Span]] | None]:
        """The spans of every returned document of the requests that ask for them: their
        segments, all scored in one more pass."""
        asking = [k for k, m in enumerate(span_counts) if m]
        segments = [spans.segment_documents(self, encoded[k], rankings[k].indices, texts_each[k], span_sizes[k]) for k in asking]
        scored = self.score_encoded([s.request for s in segments])
        out: list[list[list[Span]] | None] = [None] * len(encoded)
        for k, seg, s in zip(asking, segments, scored):
            out[k] = spans.best_spans(seg, s.scores, span_counts[k])
        return out

    @staticmethod
    def _response(ranking: Ranking, documents: Sequence[Any] | None, spans: list[list[Span]] | None) -> RerankResponse:
        if documents is None:
            return rerank_response(ranking, None, spans)
        return rerank_response(ranking, lambda i: inputs.returned_document(documents[i]), spans)

    # ---- pairs ---------------------------------------------------------------------------------

    def score_pairs(
        self,
        pairs: Iterable[tuple[str, str]],
        max_tokens_per_doc: int = DEFAULT_MAX_TOKENS_PER_DOC,
        *,
        show_progress: bool = False,
        max_windows_per_doc: int | None = None,
        truncation_side: str = DEFAULT_TRUNCATION_SIDE,
        normalize: str | None = None,
    ) -> np.ndarray:
        """Scores ``(query, document)`` pairs with any mix of queries, like sentence-transformers'
        ``CrossEncoder.predict``: float32 scores row-aligned with ``pairs``, each the score
        :meth:`rerank` gives that document for that query (a long document's best window), with
        the same document options. ``normalize`` overrides the Reranker's for this call (e.g.
        ``"none"`` for logits, for distillation).

        ``pairs`` may be any iterable, a generator included. It is read in chunks of at most
        ``SCORE_PAIRS_CHUNK_PAIRS`` pairs and about ``SCORE_PAIRS_CHUNK_CHARS`` characters
        (:mod:`fastrerank.defaults`), so memory stays bounded, beyond the returned array, however
        many pairs there are. In a chunk every distinct query is tokenized once and all pairs share
        the token-budget batches. Each pair is checked as its chunk is read: a bad ``pairs[i]``
        raises TypeError / ValueError naming ``i``, and the chunks before it are lost.

        ``show_progress=True`` draws a tqdm bar of pairs on stderr. tqdm comes with ``tokenizers``
        (through ``huggingface_hub``); without it, ``show_progress=True`` raises ImportError before
        any work.
        """
        limits = _limits(max_tokens_per_doc, max_windows_per_doc, truncation_side)
        how = None if normalize is None else inputs.check_normalize(normalize)
        items = inputs.check_pairs(pairs)
        bar = _progress_bar(len(pairs) if isinstance(pairs, Sized) else None) if inputs.check_flag(show_progress, "show_progress") else None
        scores = []
        try:
            for queries, documents in _pair_chunks(items):
                scores.append(self._score_chunk(queries, documents, limits, how))
                if bar is not None:
                    bar.update(len(queries))
        finally:
            if bar is not None:
                bar.close()
        return np.concatenate(scores) if scores else np.zeros(0, dtype=np.float32)

    def _score_chunk(self, queries: list[str], documents: list[str], limits: DocumentLimits, normalize: str | None) -> np.ndarray:
        """One chunk of :meth:`score_pairs`: one EncodedRequest per distinct query, scored together,
        scattered back to the pairs' order. The distinct queries go through the tokenizer in one
        call, the documents (grouped by query) in another: a call per query would cost a call per
        pair when every query is new."""
        distinct: dict[str, int] = {}
        group = np.fromiter((distinct.setdefault(q, len(distinct)) for q in queries), dtype=np.int64, count=len(queries))
        order = np.argsort(group, kind="stable")
        query_ids, query_offsets = self._tokenizer.encode_ragged(list(distinct))
        doc_ids, doc_offsets = self.encode([documents[i] for i in order.tolist()])
        bounds = np.zeros(len(distinct) + 1, dtype=np.int64)
        np.cumsum(np.bincount(group, minlength=len(distinct)), out=bounds[1:])
        q, d, b = query_offsets.tolist(), doc_offsets.tolist(), bounds.tolist()
        requests = [
            EncodedRequest(query_ids[q[g] : q[g + 1]], doc_ids[d[b[g]] : d[b[g + 1]]], doc_offsets[b[g] : b[g + 1] + 1] - d[b[g]], limits)
            for g in range(len(distinct))
        ]
        out = np.empty(len(queries), dtype=np.float32)
        out[order] = np.concatenate([s.scores for s in self.score_encoded(requests, normalize=normalize)])
        return out

    # ---- the pair-level seam (fastrerank.engine.Engine) ----------------------------------------

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids of ``texts`` without special tokens: one flat int32 array and int64
        offsets (``len(texts) + 1`` entries). Documents seen before come from the token cache."""
        return self._token_cache.encode_ragged(texts, self._tokenizer.encode_ragged)

    def encode_request(self, query: str, documents: Sequence[str], limits: DocumentLimits = DEFAULT_LIMITS) -> EncodedRequest:
        """``query`` and the texts of ``documents`` as token ids, with ``limits`` on how much
        of each document is kept, for :meth:`plan` and :meth:`score_encoded`."""
        return self._encode(inputs.check_query(query), inputs.document_texts(documents), limits)

    def _encode(self, query: str, texts: list[str], limits: DocumentLimits) -> EncodedRequest:
        # queries rarely repeat: the cache would cost more than it saves
        query_ids, _ = self._tokenizer.encode_ragged([query])
        doc_ids, doc_offsets = self.encode(texts)
        return EncodedRequest(query_ids, doc_ids, doc_offsets, limits)

    def char_offsets(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Where each token of ``texts`` is: int64 [tokens, 2] (start, end) characters, the
        tokens :meth:`encode` gives, and int64 offsets (``len(texts) + 1``); see
        :meth:`~fastrerank.tokenization.Tokenizer.encode_offsets_ragged`."""
        return self._tokenizer.encode_offsets_ragged(list(texts))

    def plan(self, request: EncodedRequest) -> DocumentPlan:
        """What every document of ``request`` becomes under the core's packing rules, without
        building a row: windows, longest row and tokens per document (see
        :class:`~fastrerank.engine.DocumentPlan`)."""
        return plan_request(request, self._template, self._max_length)

    def score_encoded(self, requests: Sequence[EncodedRequest], *, normalize: str | None = None) -> list[Scored]:
        """The pair-level entry point: scores already-encoded requests (see
        :meth:`encode_request`), all their pairs packed together into token-budget batches.
        Returns, per request, every document's score (max over its windows) and window count,
        in input order. ``normalize`` overrides the Reranker's for this call (e.g. ``"none"``
        for raw logits)."""
        how = self._normalize if normalize is None else inputs.check_normalize(normalize)
        if not requests:
            return []
        packed = pack(
            requests,
            self._template,
            max_length=self._max_length,
            max_batch_tokens=self._max_batch_tokens,
            pad_id=self._tokenizer.pad_id,
            token_type_ids=self._session.has_token_type_ids,
            batch_overhead=self._batch_overhead,
        )
        logits, row_docs = [], []
        for b in range(len(packed)):
            input_ids, attention_mask, token_type_ids, rows = packed.batch(b)
            logits.append(self._session.run(input_ids, attention_mask, token_type_ids))
            row_docs.append(rows)
        scores = _core.scatter_max(logits, row_docs, sum(r.n_docs for r in requests), how)
        windows = np.array(packed.windows_per_doc)  # a copy: the plan (and the ids it holds) can go
        out = []
        start = 0
        for r in requests:
            end = start + r.n_docs
            out.append(Scored(scores[start:end], windows[start:end]))
            start = end
        return out

    def __repr__(self) -> str:
        return (
            f"Reranker({str(self._model_path)!r}, device={self._device!r}, precision={self._precision!r}, "
            f"threads={self._threads}, max_length={self._max_length}, max_batch_tokens={self._max_batch_tokens}, "
            f"batch_overhead={self._batch_overhead}, normalize={self._normalize!r})"
        )


def _limits(max_tokens_per_doc: Any, max_windows_per_doc: Any, truncation_side: Any) -> DocumentLimits:
    """DocumentLimits of these values; the shared default object when they are the defaults
    (most calls), which skips the checks and lets core_limits see one rule at once."""
    if (max_tokens_per_doc, max_windows_per_doc, truncation_side) == DEFAULT_RULE and type(max_tokens_per_doc) is int:
        return DEFAULT_LIMITS
    return DocumentLimits(max_tokens_per_doc, max_windows_per_doc, truncation_side)


DEFAULT_RULE = (DEFAULT_LIMITS.max_tokens_per_doc, DEFAULT_LIMITS.max_windows_per_doc, DEFAULT_LIMITS.truncation_side)


def _runs_on_cpu(device: str) -> bool:
    kind, _ = parse_device(device)
    return kind == "cpu" or (kind == "auto" and not cuda_listed())


def _each(value: Any, n: int, name: str) -> list[Any]:
    """One value per request: ``value`` for all, or a list of ``n``."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{name} has {len(value)} values for {n} requests; give one per request, or one for all")
        return list(value)
    return [value] * n


def _pair_chunks(pairs: Iterator[Any]) -> Iterator[tuple[list[str], list[str]]]:
    """score_pairs' chunks: (queries, documents) of at most SCORE_PAIRS_CHUNK_PAIRS checked pairs
    and about SCORE_PAIRS_CHUNK_CHARS characters."""
    queries: list[str] = []
    documents: list[str] = []
    chars = 0
    for i, pair in enumerate(pairs):
        query, document = inputs.check_pair(pair, i)
        queries.append(query)
        documents.append(document)
        chars += len(query) + len(document)
        if len(queries) >= SCORE_PAIRS_CHUNK_PAIRS or chars >= SCORE_PAIRS_CHUNK_CHARS:
            yield queries, documents
            queries, documents, chars = [], [], 0
    if queries:
        yield queries, documents


def _progress_bar(total: int | None) -> Any:
    try:
        from tqdm import tqdm
    except ImportError as e:
        raise ImportError(
            "show_progress=True draws a tqdm progress bar and tqdm is not installed: pip install tqdm, or leave show_progress off"
        ) from e
    return tqdm(total=total, unit=" pairs", desc="score_pairs")


def _check_optional_int(value: Any, name: str, least: int | None, unit: str, *, most: int | None = None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int or None, got {type(value).__name__}")
    if least is not None and value < least:
        raise ValueError(f"{name} must be at least {least} ({unit}), got {value}")
    if most is not None and value > most:
        raise ValueError(f"{name} must be at most {most} ({unit}), got {value}")
    return value


def _check_max_length(max_length: int | None, window: int | None, special: int) -> int:
    if max_length is None:
        if window is None:
            raise ValueError("config.json has no max_position_embeddings, so the model window is unknown; pass max_length=...")
        return window
    if max_length < special + 2:
        raise ValueError(
            f"max_length must be at least {special + 2} (the template's {special} special tokens, "
            f"one query and one document token), got {max_length}"
        )
    if window is not None and max_length > window:
        raise ValueError(f"max_length {max_length} is more than the model can see ({window} tokens, from config.json)")
    return max_length
