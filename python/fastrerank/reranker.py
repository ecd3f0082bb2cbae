"""The Reranker: query + documents -> Cohere v2 ranking, through ONNX Runtime and the C++ core."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fastrerank import _core, inputs, models, tokenization
from fastrerank.session import Session, parse_device
from fastrerank.token_cache import TokenCache
from fastrerank.types import ApiVersion, BilledUnits, Meta, RerankResponse, RerankResult, new_id, search_units

__all__ = ["NORMALIZE", "Reranker", "Scored"]

NORMALIZE = ("auto", "sigmoid", "softmax", "none")

# Padded tokens per model call. On CPU, with length-sorted rows, small batches are faster than
# big ones (cache-resident activations); on a GPU larger batches keep the device busy.
DEFAULT_BATCH_TOKENS = {"cpu": 1024, "cuda": 16384}
# What one more model call costs, in padded tokens (see _core.cut_batches). On CPU a padded
# token costs as much as a real one and a call little, so batches pad only where lengths are
# close; on a GPU extra rows are nearly free and calls are not: fill every batch (greedy, -1).
DEFAULT_BATCH_OVERHEAD = {"cpu": 64, "cuda": -1}
MAX_BATCH_OVERHEAD = 1 << 31  # the core's kMaxBatchOverhead
# Characters tokenized per call of the tokenizer (bounds its transient memory, ~0.1 GB).
ENCODE_CHUNK_CHARS = 1 << 20


@dataclass(frozen=True)
class Scored:
    """Per-document results of :meth:`Reranker.score_encoded`, in input order."""

    scores: np.ndarray  # float32 [n_docs]: the best window's normalised score
    windows: np.ndarray  # int32 [n_docs]: windows (model rows) each document took

    def slice(self, start: int, end: int) -> Scored:
        """Documents [start, end)."""
        return Scored(self.scores[start:end], self.windows[start:end])


class Reranker:
    """Ranks documents by relevance to a query with a cross-encoder.

    Args:
        model: a model directory holding ``model.onnx`` (or a precision variant),
            ``tokenizer.json`` and ``config.json``; or a Hub name such as
            ``"cross-encoder/ms-marco-MiniLM-L-6-v2"``, found in fastrerank's export cache or
            the Hugging Face cache, else downloaded (extra ``hub``).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (CUDA when it is there). Asking
            for CUDA where it cannot run raises :class:`~fastrerank.session.DeviceNotAvailableError`;
            it never falls back to the CPU silently.
        precision: ``"fp32"`` (``model.onnx``), ``"int8"`` (``model_int8.onnx``) or ``"fp16"``
            (``model_fp16.onnx``, for CUDA). int8 and fp16 trade exactness for speed.
        threads: ONNX Runtime intra-op threads; default: the physical cores. Tokenization (the
            native fast path) splits big batches over as many: it runs before the model, not beside it.
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

    One Reranker may be shared by many threads; their calls run in parallel.
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        device: str = "cpu",
        precision: str = "fp32",
        threads: int | None = None,
        max_length: int | None = None,
        max_batch_tokens: int | None = None,
        normalize: str = "auto",
        token_cache_bytes: int = 64 << 20,
        batch_overhead: int | None = None,
    ) -> None:
        if normalize not in NORMALIZE:
            raise ValueError(f"normalize must be one of {', '.join(map(repr, NORMALIZE))}, got {normalize!r}")
        parse_device(device)
        files = models.resolve(model, precision)
        self.model_path: Path = files.directory
        self.precision = precision
        self.normalize = normalize
        self._session = Session(files.onnx, device=device, threads=threads)
        # Tokenization runs before the model, never beside it: it may use the same threads.
        self._tokenizer = tokenization.load(files.tokenizer, threads=self._session.threads)
        self._token_cache = TokenCache(token_cache_bytes)
        self.device: str = self._session.device

        spec = self._tokenizer.pair_template
        self._template = _core.PairTemplate(
            prefix=spec.prefix,
            prefix_types=spec.prefix_types,
            query_type=spec.query_type,
            middle=spec.middle,
            middle_types=spec.middle_types,
            doc_type=spec.doc_type,
            suffix=spec.suffix,
            suffix_types=spec.suffix_types,
        )
        window = models.max_length_from_config(files.config)
        if files.entry is not None:
            window = min(window or files.entry.max_length, files.entry.max_length)
        self.max_length = _check_max_length(max_length, window, len(spec.prefix) + len(spec.middle) + len(spec.suffix))
        if max_batch_tokens is None:
            max_batch_tokens = DEFAULT_BATCH_TOKENS[self.device]
        elif isinstance(max_batch_tokens, bool) or not isinstance(max_batch_tokens, int):
            raise TypeError(f"max_batch_tokens must be an int or None, got {type(max_batch_tokens).__name__}")
        elif max_batch_tokens < 1:
            raise ValueError(f"max_batch_tokens must be at least 1, got {max_batch_tokens}")
        self.max_batch_tokens: int = max_batch_tokens
        if batch_overhead is None:
            batch_overhead = DEFAULT_BATCH_OVERHEAD[self.device]
        elif isinstance(batch_overhead, bool) or not isinstance(batch_overhead, int):
            raise TypeError(f"batch_overhead must be an int or None, got {type(batch_overhead).__name__}")
        elif batch_overhead > MAX_BATCH_OVERHEAD:
            raise ValueError(f"batch_overhead must be at most {MAX_BATCH_OVERHEAD} (padded tokens per model call), got {batch_overhead}")
        self.batch_overhead: int = batch_overhead
        if normalize == "softmax" and self._session.num_logits == 1:
            raise ValueError("normalize='softmax' needs a model with two logits (negative, positive); this one gives one: use 'sigmoid' or 'none'")

    @property
    def threads(self) -> int:
        """ONNX Runtime intra-op threads of this Reranker."""
        return self._session.threads

    @property
    def tokenizer(self) -> tokenization.Tokenizer:
        """The model's tokenizer (ids without special tokens; see :mod:`fastrerank.tokenization`)."""
        return self._tokenizer

    def rerank(
        self,
        query: str,
        documents: Sequence[str] | Sequence[dict[str, Any]],
        top_n: int | None = None,
        max_tokens_per_doc: int = 4096,
        *,
        rank_fields: Sequence[str] | None = None,
        return_documents: bool = False,
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

        Returns:
            A :class:`RerankResponse`; ``.to_dict()`` is the Cohere v2 JSON.

        Raises:
            TypeError, ValueError: a bad argument, named in the message.
        """
        query = inputs.check_query(query)
        texts = inputs.document_texts(documents, rank_fields)
        n = inputs.check_top_n(top_n)
        max_tokens = inputs.check_max_tokens_per_doc(max_tokens_per_doc)
        if not isinstance(return_documents, bool):
            raise TypeError(f"return_documents must be a bool, got {type(return_documents).__name__}")

        query_ids, query_offsets = self._tokenizer.encode_ragged([query])  # one short text: the cache costs more than it saves
        doc_ids, doc_offsets = self.encode(texts)
        scored = self.score_encoded(query_ids, query_offsets, doc_ids, doc_offsets, None, max_tokens_per_doc=max_tokens)
        return self._response(scored, n, documents if return_documents else None)

    def rerank_many(
        self,
        requests: Sequence[tuple[str, Sequence[str] | Sequence[dict[str, Any]]]],
        top_n: int | None = None,
        max_tokens_per_doc: int = 4096,
        *,
        rank_fields: Sequence[str] | None = None,
        return_documents: bool = False,
    ) -> list[RerankResponse]:
        """Ranks several (query, documents) requests in one pass: all their pairs are packed
        together, so short requests fill each other's batches. Same arguments and checks as
        :meth:`rerank`, applied to every request; returns one response per request, in order."""
        if isinstance(requests, (str, bytes)) or not isinstance(requests, Sequence):
            raise TypeError(f"requests must be a list of (query, documents) pairs, got {type(requests).__name__}")
        n = inputs.check_top_n(top_n)
        max_tokens = inputs.check_max_tokens_per_doc(max_tokens_per_doc)
        if not isinstance(return_documents, bool):
            raise TypeError(f"return_documents must be a bool, got {type(return_documents).__name__}")
        queries: list[str] = []
        texts: list[str] = []
        doc_query: list[int] = []
        for i, request in enumerate(requests):
            if not isinstance(request, (tuple, list)) or len(request) != 2:
                raise TypeError(f"requests[{i}] must be a (query, documents) pair")
            try:
                queries.append(inputs.check_query(request[0]))
                request_texts = inputs.document_texts(request[1], rank_fields)
            except (TypeError, ValueError) as e:
                raise type(e)(f"requests[{i}]: {e}") from e
            texts.extend(request_texts)
            doc_query.extend([i] * len(request_texts))
        query_ids, query_offsets = self.encode(queries)
        doc_ids, doc_offsets = self.encode(texts)
        scored = self.score_encoded(
            query_ids, query_offsets, doc_ids, doc_offsets, np.asarray(doc_query, dtype=np.int32), max_tokens_per_doc=max_tokens
        )
        out = []
        start = 0
        for request in requests:
            end = start + len(request[1])
            out.append(self._response(scored.slice(start, end), n, request[1] if return_documents else None))
            start = end
        return out

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids of ``texts`` without special tokens, for :meth:`score_encoded`: one flat
        int32 array and int64 offsets (``len(texts) + 1`` entries)."""
        return self._token_cache.encode_ragged(texts, self._encode_in_chunks)

    def _encode_in_chunks(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The tokenizer on at most ENCODE_CHUNK_CHARS characters at a time: its per-token
        objects for a thousand 4,096-token documents would otherwise take ~0.5 GB at once."""
        chunks: list[list[str]] = [[]]
        size = 0
        for t in texts:
            if size + len(t) > ENCODE_CHUNK_CHARS and chunks[-1]:
                chunks.append([])
                size = 0
            chunks[-1].append(t)
            size += len(t)
        if len(chunks) == 1:
            return self._tokenizer.encode_ragged(chunks[0])
        parts = [self._tokenizer.encode_ragged(c) for c in chunks]
        flat = np.concatenate([p[0] for p in parts])
        offsets = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(np.concatenate([np.diff(p[1]) for p in parts]), out=offsets[1:])
        return flat, offsets

    def score_encoded(
        self,
        query_ids: np.ndarray,
        query_offsets: np.ndarray,
        doc_ids: np.ndarray,
        doc_offsets: np.ndarray,
        doc_query: np.ndarray | None,
        *,
        max_tokens_per_doc: int = 4096,
        normalize: str | None = None,
    ) -> Scored:
        """The pair-level entry point: scores already-encoded documents against already-encoded
        queries (see :meth:`encode`). ``doc_query[d]`` is the query of document ``d`` (None: all
        query 0). All pairs are packed together into token-budget batches. Returns every
        document's score (max over its windows) and window count, in input order.
        ``normalize`` overrides the Reranker's for this call (e.g. ``"none"`` for raw logits)."""
        max_tokens = inputs.check_max_tokens_per_doc(max_tokens_per_doc)
        if normalize is not None and normalize not in NORMALIZE:
            raise ValueError(f"normalize must be one of {', '.join(map(repr, NORMALIZE))}, got {normalize!r}")
        n_docs = len(doc_offsets) - 1
        packed = _core.pack(
            query_ids,
            doc_ids,
            doc_offsets,
            self._template,
            max_length=self.max_length,
            max_tokens_per_doc=max_tokens,
            max_batch_tokens=self.max_batch_tokens,
            pad_id=self._tokenizer.pad_id,
            token_type_ids=self._session.has_token_type_ids,
            query_offsets=query_offsets,
            doc_query=doc_query,
            batch_overhead=self.batch_overhead,
        )
        logits, row_docs = [], []
        for b in range(len(packed)):
            input_ids, attention_mask, token_type_ids, rows = packed.batch(b)
            logits.append(self._session.run(input_ids, attention_mask, token_type_ids))
            row_docs.append(rows)
        scores = _core.scatter_max(logits, row_docs, n_docs, normalize or self.normalize)
        return Scored(scores=scores, windows=np.array(packed.windows_per_doc))

    def _response(self, scored: Scored, top_n: int, documents: Sequence[Any] | None) -> RerankResponse:
        indices, scores = _core.top_n(scored.scores, top_n)
        pairs = zip(indices.tolist(), scores.tolist())
        # positional arguments: this runs once per document, and keywords cost a third more
        if documents is None:
            results = [RerankResult(i, s) for i, s in pairs]
        else:
            results = [RerankResult(i, s, inputs.returned_document(documents[i])) for i, s in pairs]
        units = search_units(int(scored.windows.sum()))
        meta = Meta(api_version=ApiVersion(), billed_units=BilledUnits(search_units=units))
        return RerankResponse(results=results, id=new_id(), meta=meta)

    async def arerank(
        self,
        query: str,
        documents: Sequence[str] | Sequence[dict[str, Any]],
        top_n: int | None = None,
        max_tokens_per_doc: int = 4096,
        *,
        rank_fields: Sequence[str] | None = None,
        return_documents: bool = False,
    ) -> RerankResponse:
        """:meth:`rerank` on a worker thread, so the event loop keeps running."""
        return await asyncio.to_thread(
            self.rerank,
            query,
            documents,
            top_n,
            max_tokens_per_doc,
            rank_fields=rank_fields,
            return_documents=return_documents,
        )

    def __repr__(self) -> str:
        return (
            f"Reranker({str(self.model_path)!r}, device={self.device!r}, precision={self.precision!r}, "
            f"threads={self.threads}, max_length={self.max_length}, max_batch_tokens={self.max_batch_tokens}, "
            f"batch_overhead={self.batch_overhead}, "
            f"normalize={self.normalize!r})"
        )


def _check_max_length(max_length: Any, window: int | None, special: int) -> int:
    if max_length is None:
        return window if window is not None else 512
    if isinstance(max_length, bool) or not isinstance(max_length, int):
        raise TypeError(f"max_length must be an int or None, got {type(max_length).__name__}")
    if max_length < special + 2:
        raise ValueError(f"max_length must be at least {special + 2} (the template's {special} special tokens, one query and one document token), got {max_length}")
    if window is not None and max_length > window:
        raise ValueError(f"max_length {max_length} is more than the model can see ({window} tokens, from config.json)")
    return max_length
