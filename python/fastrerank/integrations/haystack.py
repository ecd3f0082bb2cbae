"""Haystack: :class:`FastRerankRanker`, a Haystack 3.x component::

    from fastrerank.integrations.haystack import FastRerankRanker

    pipeline.add_component("ranker", FastRerankRanker(model="cross-encoder/ms-marco-MiniLM-L6-v2", top_k=5))

Haystack loads components from a saved pipeline only from modules it allows:
``Pipeline.loads(text, allowed_modules=["fastrerank.integrations.*"])``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

try:
    from haystack import Document, component, default_from_dict, default_to_dict
except ImportError as e:  # pragma: no cover - the message is the point
    raise ImportError("fastrerank.integrations.haystack needs haystack-ai: pip install 'fastrerank[haystack]'") from e
# Haystack's rankers' (and its TEI client's) own rule; outside the try: were it gone from a
# Haystack release, that release is the problem, not a missing install
from haystack.utils.misc import _deduplicate_documents

from fastrerank import Reranker, RerankResponse
from fastrerank.defaults import DEFAULT_MAX_TOKENS_PER_DOC
from fastrerank.integrations._shared import ModelSource, model_label, shared_reranker

__all__ = ["FastRerankRanker"]


@component
class FastRerankRanker:
    """Ranks documents by relevance to the query with a local fastrerank cross-encoder, as
    Haystack's ``SentenceTransformersSimilarityRanker`` does: documents deduplicated by id (the
    best-scored copy stays), each ranked on its ``meta_fields_to_embed`` values and its content
    (``None`` counts as ``""``) joined by ``embedding_separator``; out come new documents
    (``dataclasses.replace``) with ``score`` set, highest first, at most ``top_k``, none below
    ``score_threshold``.

    Args:
        model: a model name, a model directory, or a :class:`fastrerank.Reranker` (saved as its
            ``model_path``; its options are not: give ``reranker_kwargs`` for a saved pipeline).
            One Reranker is shared by every adapter with the same model and ``reranker_kwargs``.
        top_k: how many documents to return (default 10, as Haystack's rankers).
        score_threshold: drop documents scoring below this.
        meta_fields_to_embed: meta fields ranked with the content, before it.
        embedding_separator: what joins them.
        max_tokens_per_doc: a document is cut to this many tokens, then windowed.
        reranker_kwargs: ``Reranker(...)`` options when ``model`` is loaded here.

    ``__init__`` only records the options; the model loads in :meth:`warm_up` (a pipeline's
    warm-up, or the first run).
    """

    def __init__(
        self,
        model: ModelSource,
        top_k: int = 10,
        score_threshold: float | None = None,
        meta_fields_to_embed: list[str] | None = None,
        embedding_separator: str = "\n",
        max_tokens_per_doc: int = DEFAULT_MAX_TOKENS_PER_DOC,
        reranker_kwargs: dict[str, Any] | None = None,
    ) -> None:
        _check_top_k(top_k)
        self.model = model_label(model)
        self.top_k = top_k
        self.score_threshold = score_threshold
        self.meta_fields_to_embed = list(meta_fields_to_embed or [])
        self.embedding_separator = embedding_separator
        self.max_tokens_per_doc = max_tokens_per_doc
        self.reranker_kwargs = reranker_kwargs
        self._source = model
        self._reranker: Reranker | None = shared_reranker(model, reranker_kwargs) if isinstance(model, Reranker) else None

    def warm_up(self) -> None:
        """Loads the model (once; shared by every component with the same model and options)."""
        if self._reranker is None:
            self._reranker = shared_reranker(self._source, self.reranker_kwargs)

    def to_dict(self) -> dict[str, Any]:
        """The component's configuration, for a saved pipeline."""
        return default_to_dict(
            self,
            model=self.model,
            top_k=self.top_k,
            score_threshold=self.score_threshold,
            meta_fields_to_embed=self.meta_fields_to_embed,
            embedding_separator=self.embedding_separator,
            max_tokens_per_doc=self.max_tokens_per_doc,
            reranker_kwargs=self.reranker_kwargs,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FastRerankRanker:
        """The component :meth:`to_dict` described."""
        return default_from_dict(cls, data)

    @component.output_types(documents=list[Document])
    def run(
        self, query: str, documents: list[Document], top_k: int | None = None, score_threshold: float | None = None
    ) -> dict[str, list[Document]]:
        """``{"documents": [...]}``: the ``top_k`` documents most relevant to ``query``, highest
        first; ``top_k`` and ``score_threshold`` override the component's for this call."""
        if not documents:
            return {"documents": []}
        reranker, unique, texts, k, threshold = self._prepare(documents, top_k, score_threshold)
        return _ranked(unique, reranker.rerank(query, texts, k, self.max_tokens_per_doc), threshold)

    @component.output_types(documents=list[Document])
    async def run_async(
        self, query: str, documents: list[Document], top_k: int | None = None, score_threshold: float | None = None
    ) -> dict[str, list[Document]]:
        """:meth:`run` on a worker thread (``Reranker.arerank``): the event loop keeps running."""
        if not documents:
            return {"documents": []}
        reranker, unique, texts, k, threshold = self._prepare(documents, top_k, score_threshold)
        return _ranked(unique, await reranker.arerank(query, texts, k, self.max_tokens_per_doc), threshold)

    def _prepare(
        self, documents: list[Document], top_k: int | None, score_threshold: float | None
    ) -> tuple[Reranker, list[Document], list[str], int, float | None]:
        if top_k is not None:
            _check_top_k(top_k)
        self.warm_up()
        assert self._reranker is not None
        unique = _deduplicate_documents(documents)
        texts = []
        for doc in unique:
            meta = [str(doc.meta[k]) for k in self.meta_fields_to_embed if doc.meta.get(k) is not None]
            texts.append(self.embedding_separator.join([*meta, doc.content or ""]))
        threshold = self.score_threshold if score_threshold is None else score_threshold
        return self._reranker, unique, texts, self.top_k if top_k is None else top_k, threshold


def _check_top_k(top_k: int) -> None:
    if top_k <= 0:
        raise ValueError(f"top_k must be > 0, but got {top_k}")  # Haystack's rankers' wording


def _ranked(documents: list[Document], response: RerankResponse, threshold: float | None) -> dict[str, list[Document]]:
    out = []
    for r in response.results:
        if threshold is not None and r.relevance_score < threshold:
            break  # highest first: the rest score lower still
        out.append(replace(documents[r.index], score=r.relevance_score))
    return {"documents": out}
