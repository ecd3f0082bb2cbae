"""LangChain: :class:`FastRerankCompressor`, a ``BaseDocumentCompressor`` (langchain-core 1.x),
for a ``ContextualCompressionRetriever`` or on its own::

    from fastrerank.integrations.langchain import FastRerankCompressor

    compressor = FastRerankCompressor(model="cross-encoder/ms-marco-MiniLM-L6-v2", top_n=3)
    best = compressor.compress_documents(documents, query)
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

try:
    from langchain_core.callbacks import Callbacks
    from langchain_core.documents import BaseDocumentCompressor, Document
    from pydantic import ConfigDict, PrivateAttr
except ImportError as e:  # pragma: no cover - the message is the point
    raise ImportError("fastrerank.integrations.langchain needs langchain-core: pip install 'fastrerank[langchain]'") from e

from fastrerank import Reranker, RerankResponse, inputs
from fastrerank.defaults import DEFAULT_MAX_TOKENS_PER_DOC
from fastrerank.integrations._shared import ModelSource, shared_reranker

__all__ = ["FastRerankCompressor"]

TEXT_FIELD = "page_content"  # what rank_fields calls a document's text


class FastRerankCompressor(BaseDocumentCompressor):
    """Reranks documents with a local fastrerank cross-encoder, as ``langchain_cohere.CohereRerank``
    does with Cohere's API: copies of the ``top_n`` best documents, highest first, each with
    ``metadata["relevance_score"]`` (the copies keep ``id``; the input is not changed).

    Args:
        model: a model name, a model directory, or a :class:`fastrerank.Reranker`; one Reranker
            is shared by every adapter with the same model and ``reranker_kwargs``.
        top_n: how many documents to return (default 3, as ``CohereRerank``); None returns all.
        score_threshold: drop documents scoring below this.
        rank_fields: rank on these fields, as ``key: value`` lines in this order: metadata keys,
            and ``"page_content"`` for the text (a document without one of them is a ValueError).
        max_tokens_per_doc: a document is cut to this many tokens, then windowed.
        reranker_kwargs: ``Reranker(...)`` options when ``model`` is loaded here (``device``,
            ``precision``, ``threads``...).
    """

    model: ModelSource
    top_n: int | None = 3
    score_threshold: float | None = None
    rank_fields: list[str] | None = None
    max_tokens_per_doc: int = DEFAULT_MAX_TOKENS_PER_DOC
    reranker_kwargs: dict[str, Any] | None = None

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    _reranker: Reranker = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        """Checks the options and loads (or shares) the Reranker."""
        inputs.check_top_n(self.top_n)
        inputs.check_max_tokens_per_doc(self.max_tokens_per_doc)
        inputs.check_rank_fields(self.rank_fields)
        self._reranker = shared_reranker(self.model, self.reranker_kwargs)

    @property
    def reranker(self) -> Reranker:
        """The Reranker that scores."""
        return self._reranker

    def compress_documents(self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None) -> Sequence[Document]:
        """The ``top_n`` documents most relevant to ``query``, highest first."""
        if not documents:
            return []
        response = self._reranker.rerank(query, self._texts(documents), self.top_n, self.max_tokens_per_doc, rank_fields=self.rank_fields)
        return self._ranked(documents, response)

    async def acompress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """:meth:`compress_documents` on a worker thread (``Reranker.arerank``)."""
        if not documents:
            return []
        texts = self._texts(documents)
        response = await self._reranker.arerank(query, texts, self.top_n, self.max_tokens_per_doc, rank_fields=self.rank_fields)
        return self._ranked(documents, response)

    def _texts(self, documents: Sequence[Document]) -> list[Any]:
        if self.rank_fields is None:
            return [d.page_content for d in documents]
        return [{**d.metadata, TEXT_FIELD: d.page_content} for d in documents]

    def _ranked(self, documents: Sequence[Document], response: RerankResponse) -> list[Document]:
        out = []
        for r in response.results:
            if self.score_threshold is not None and r.relevance_score < self.score_threshold:
                break  # highest first: the rest score lower still
            doc = documents[r.index]
            metadata = copy.deepcopy(doc.metadata)
            metadata["relevance_score"] = r.relevance_score
            out.append(doc.model_copy(update={"metadata": metadata}))
        return out
