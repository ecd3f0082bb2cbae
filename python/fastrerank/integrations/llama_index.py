"""LlamaIndex: :class:`FastRerankPostprocessor`, a ``BaseNodePostprocessor`` (llama-index-core
0.14)::

    from fastrerank.integrations.llama_index import FastRerankPostprocessor

    engine = index.as_query_engine(similarity_top_k=20, node_postprocessors=[FastRerankPostprocessor(model="...", top_n=3)])
"""

from __future__ import annotations

from typing import Any

try:
    from llama_index.core.bridge.pydantic import Field, PrivateAttr
    from llama_index.core.callbacks import CBEventType, EventPayload
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
except ImportError as e:  # pragma: no cover - the message is the point
    raise ImportError("fastrerank.integrations.llama_index needs llama-index-core: pip install 'fastrerank[llama-index]'") from e

from fastrerank import Reranker, RerankResponse, inputs
from fastrerank.defaults import DEFAULT_MAX_TOKENS_PER_DOC
from fastrerank.integrations._shared import ModelSource, model_label, shared_reranker

__all__ = ["FastRerankPostprocessor"]

dispatcher = get_dispatcher(__name__)


class FastRerankPostprocessor(BaseNodePostprocessor):
    """Reranks nodes with a local fastrerank cross-encoder, as LlamaIndex's ``CohereRerank`` does
    with Cohere's API: on the text the embedding saw (``get_content(MetadataMode.EMBED)``), into
    new ``NodeWithScore`` objects (the input is not changed), highest first, at most ``top_n``;
    it emits ``ReRankStartEvent`` / ``ReRankEndEvent`` and the ``CBEventType.RERANKING`` event.

    Args:
        model: a model name, a model directory, or a :class:`fastrerank.Reranker`; one Reranker
            is shared by every adapter with the same model and ``reranker_kwargs``.
        top_n: how many nodes to return (default 2, as LlamaIndex's rerankers).
        max_tokens_per_doc: a node's text is cut to this many tokens, then windowed.
        reranker_kwargs: ``Reranker(...)`` options when ``model`` is loaded here.
        **kwargs: the base class's fields (``callback_manager``).
    """

    model: str = Field(description="The model name or directory.")
    top_n: int = Field(default=2, description="How many nodes to return, highest score first.")
    max_tokens_per_doc: int = Field(default=DEFAULT_MAX_TOKENS_PER_DOC, description="A node's text is cut to this many tokens.")
    reranker_kwargs: dict[str, Any] | None = Field(default=None, description="Reranker(...) options when the model is loaded.")

    _reranker: Reranker = PrivateAttr()

    def __init__(
        self,
        model: ModelSource,
        top_n: int = 2,
        max_tokens_per_doc: int = DEFAULT_MAX_TOKENS_PER_DOC,
        reranker_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        inputs.check_top_n(top_n)
        inputs.check_max_tokens_per_doc(max_tokens_per_doc)
        reranker = shared_reranker(model, reranker_kwargs)
        fields: dict[str, Any] = {
            "model": model_label(model),
            "top_n": top_n,
            "max_tokens_per_doc": max_tokens_per_doc,
            "reranker_kwargs": reranker_kwargs,
        }
        super().__init__(**fields, **kwargs)  # pydantic fields (a keyword per field puzzles mypy without pydantic's plugin)
        self._reranker = reranker

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex serialises this class under."""
        return "FastRerankPostprocessor"

    @property
    def reranker(self) -> Reranker:
        """The Reranker that scores."""
        return self._reranker

    def _postprocess_nodes(self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None) -> list[NodeWithScore]:
        query = self._started(nodes, query_bundle)
        if not nodes:
            return []
        with self.callback_manager.event(CBEventType.RERANKING, payload=self._payload(nodes, query)) as event:
            response = self._reranker.rerank(query, _texts(nodes), self.top_n, self.max_tokens_per_doc)
            new_nodes = _scored(nodes, response)
            event.on_end(payload={EventPayload.NODES: new_nodes})
        dispatcher.event(ReRankEndEvent(nodes=new_nodes))
        return new_nodes

    async def _apostprocess_nodes(self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None) -> list[NodeWithScore]:
        query = self._started(nodes, query_bundle)
        if not nodes:
            return []
        with self.callback_manager.event(CBEventType.RERANKING, payload=self._payload(nodes, query)) as event:
            response = await self._reranker.arerank(query, _texts(nodes), self.top_n, self.max_tokens_per_doc)
            new_nodes = _scored(nodes, response)
            event.on_end(payload={EventPayload.NODES: new_nodes})
        dispatcher.event(ReRankEndEvent(nodes=new_nodes))
        return new_nodes

    def _started(self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None) -> str:
        # the built-in rerankers' order: the start event, then the query check
        dispatcher.event(ReRankStartEvent(query=query_bundle, nodes=nodes, top_n=self.top_n, model_name=self.model))
        if query_bundle is None:
            raise ValueError("Missing query bundle in extra info.")
        return query_bundle.query_str

    def _payload(self, nodes: list[NodeWithScore], query: str) -> dict[str, Any]:
        return {
            EventPayload.NODES: nodes,
            EventPayload.MODEL_NAME: self.model,
            EventPayload.QUERY_STR: query,
            EventPayload.TOP_K: self.top_n,
        }


def _texts(nodes: list[NodeWithScore]) -> list[str]:
    return [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]


def _scored(nodes: list[NodeWithScore], response: RerankResponse) -> list[NodeWithScore]:
    return [NodeWithScore(node=nodes[r.index].node, score=r.relevance_score) for r in response.results]
