"""fastrerank.integrations.llama_index against llama-index-core, and beside its CohereRerank."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("llama_index.core")
from llama_index.core.callbacks import CallbackManager, CBEventType, LlamaDebugHandler
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import ImageNode, MetadataMode, NodeWithScore, QueryBundle, TextNode

from conftest import KEY, MODEL, QUERY, TEXTS, expected, near
from fastrerank.integrations.llama_index import FastRerankPostprocessor


def nodes(texts=TEXTS):
    return [NodeWithScore(node=TextNode(text=t, id_=f"n{i}", metadata={"title": f"T{i}"}), score=0.5) for i, t in enumerate(texts)]


def ranking(out):
    return [(int(n.node.id_[1:]), n.score) for n in out]


def test_order_and_scores_equal_rerank_on_the_embedded_text(rr):
    ns = nodes()
    texts = [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in ns]
    assert texts[1].startswith("title: T1")  # the metadata the embedding saw
    p = FastRerankPostprocessor(model=MODEL, top_n=len(ns))
    assert isinstance(p, BaseNodePostprocessor) and p.reranker is rr
    assert ranking(p.postprocess_nodes(ns, query_str=QUERY)) == expected(rr, texts)


def test_async_equals_sync(rr):
    p = FastRerankPostprocessor(model=rr, top_n=4)
    assert ranking(asyncio.run(p.apostprocess_nodes(nodes(), query_str=QUERY))) == ranking(p.postprocess_nodes(nodes(), query_str=QUERY))
    assert asyncio.run(p.apostprocess_nodes([], query_str=QUERY)) == []


def no_text_nodes():
    return [
        NodeWithScore(node=TextNode(text="", id_="n0")),
        NodeWithScore(node=ImageNode(id_="n1", image_url="file:///x.png")),  # no text at all
        NodeWithScore(node=TextNode(text=TEXTS[1], id_="n2")),
    ]


@pytest.mark.parametrize("top_n", [2, 1, 50])
def test_behaves_as_its_cohere_rerank(server, rr, top_n):
    """The same cut, nodes and order as LlamaIndex's CohereRerank over fastrerank serve: the
    default cut (2), a cut past the list, empty input, nodes without text, no query."""
    cohere_rerank = pytest.importorskip("llama_index.postprocessor.cohere_rerank").CohereRerank
    options = {} if top_n == 2 else {"top_n": top_n}
    theirs = cohere_rerank(model="fastrerank", api_key=KEY, base_url=server, **options)
    ours = FastRerankPostprocessor(model=rr, **options)
    for make in (nodes, no_text_nodes, lambda: []):
        got, want = ours.postprocess_nodes(make(), query_str=QUERY), theirs.postprocess_nodes(make(), query_str=QUERY)
        assert ranking(got) == near(ranking(want))
    for p in (ours, theirs):
        with pytest.raises(ValueError, match="Missing query bundle"):
            p.postprocess_nodes(nodes())


def test_new_nodes_and_the_input_untouched(rr):
    ns = nodes()
    out = FastRerankPostprocessor(model=rr, top_n=2).postprocess_nodes(ns, QueryBundle(QUERY))
    assert len(out) == 2 and all(n.score == 0.5 for n in ns)
    assert all(o is not n for o in out for n in ns)
    assert out[0].node is ns[ranking(out)[0][0]].node


class Recorder(BaseEventHandler):
    events: list = []

    @classmethod
    def class_name(cls) -> str:
        return "Recorder"

    def handle(self, event, **kwargs):
        if isinstance(event, (ReRankStartEvent, ReRankEndEvent)):
            self.events.append(event)


def events_of(postprocessor):
    """The rerank events and callback payloads ``postprocessor`` emits on a sync and an async call."""
    recorder, debug = Recorder(events=[]), LlamaDebugHandler()
    root = get_dispatcher()
    root.add_event_handler(recorder)
    postprocessor.callback_manager = CallbackManager([debug])
    try:
        postprocessor.postprocess_nodes(nodes(), query_str=QUERY)
        asyncio.run(postprocessor.apostprocess_nodes(nodes(), query_str=QUERY))
        postprocessor.postprocess_nodes([], query_str=QUERY)
    finally:
        root.event_handlers.remove(recorder)
    starts = [(e.query.query_str, e.top_n, len(e.nodes)) for e in recorder.events if isinstance(e, ReRankStartEvent)]
    kinds = [type(e).__name__ for e in recorder.events]
    payloads = [
        (start.payload["query_str"], start.payload["top_k"], len(end.payload["nodes"]))
        for start, end in debug.get_event_pairs(CBEventType.RERANKING)
    ]
    return kinds, starts, payloads


def test_the_same_events_as_its_cohere_rerank(server, rr):
    cohere_rerank = pytest.importorskip("llama_index.postprocessor.cohere_rerank").CohereRerank
    ours = events_of(FastRerankPostprocessor(model=rr, top_n=3))
    assert ours == events_of(cohere_rerank(model="fastrerank", api_key=KEY, base_url=server, top_n=3))
    assert ours[0] == ["ReRankStartEvent", "ReRankEndEvent"] * 2 + ["ReRankStartEvent"]


def test_serialises_the_model_as_its_path(rr):
    d = FastRerankPostprocessor(model=rr, top_n=3).to_dict()
    assert d["model"] == str(rr.model_path) and d["top_n"] == 3 and d["class_name"] == "FastRerankPostprocessor"
    again = FastRerankPostprocessor.from_dict(d)
    assert again.reranker is rr and again.top_n == 3
    with pytest.raises(ValueError, match="top_n"):
        FastRerankPostprocessor(model=rr, top_n=0)


def test_in_a_query_engine(rr):
    from llama_index.core import VectorStoreIndex
    from llama_index.core.embeddings import MockEmbedding
    from llama_index.core.llms import MockLLM
    from llama_index.core.query_engine import RetrieverQueryEngine
    from llama_index.core.response_synthesizers.no_text import NoText

    index = VectorStoreIndex(nodes=[n.node for n in nodes()], embed_model=MockEmbedding(embed_dim=8))
    engine = RetrieverQueryEngine(
        retriever=index.as_retriever(similarity_top_k=len(TEXTS)),
        response_synthesizer=NoText(llm=MockLLM()),  # sources only: no LLM to reach
        node_postprocessors=[FastRerankPostprocessor(model=MODEL, top_n=3)],
    )
    texts = [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes()]
    assert ranking(engine.query(QUERY).source_nodes) == expected(rr, texts, 3)
    assert ranking(asyncio.run(engine.aquery(QUERY)).source_nodes) == expected(rr, texts, 3)
