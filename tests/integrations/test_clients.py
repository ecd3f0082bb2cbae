"""The frameworks' own Cohere and TEI clients, unchanged, against `fastrerank serve` on 127.0.0.1
(with an API key): scores and order equal Reranker.rerank on the text each client sends. (Their
cuts, empty input and documents without text beside the adapters': each framework's test file.)"""

from __future__ import annotations

import asyncio

import pytest

from conftest import KEY, MODEL, QUERY, TEXTS, expected, near
from fastrerank import Reranker

LONG = "capital " * 300 + TEXTS[1]  # longer than the model window: truncation sides differ


@pytest.fixture(scope="module")
def logits():
    return Reranker(MODEL, normalize="none")


# ---- LangChain: langchain_cohere.CohereRerank ---------------------------------------------------


def test_langchain_cohere_rerank(server, rr):
    pytest.importorskip("langchain_cohere")
    import cohere
    from langchain_cohere import CohereRerank
    from langchain_core.documents import Document

    c = CohereRerank(base_url=server, model="fastrerank", cohere_api_key=KEY, top_n=None)
    documents = [Document(page_content=t, metadata={"n": i}) for i, t in enumerate(TEXTS)]
    got = [(d.metadata["n"], d.metadata["relevance_score"]) for d in c.compress_documents(documents, QUERY)]
    assert got == near(expected(rr, TEXTS))
    assert [(d.metadata["n"], d.metadata["relevance_score"]) for d in asyncio.run(c.acompress_documents(documents, QUERY))] == got
    import yaml

    rows = [{"title": f"T{i}", "text": t, "skip": i} for i, t in enumerate(TEXTS)]  # dict documents go as YAML of rank_fields
    sent = [yaml.dump({"title": r["title"], "text": r["text"]}, sort_keys=False) for r in rows]
    assert [(r["index"], r["relevance_score"]) for r in c.rerank(rows, QUERY, rank_fields=["title", "text"])] == near(expected(rr, sent))
    with pytest.raises(cohere.UnauthorizedError):
        CohereRerank(base_url=server, model="fastrerank", cohere_api_key="wrong").compress_documents(documents, QUERY)


# ---- LlamaIndex: CohereRerank and TextEmbeddingInference --------------------------------------


def nodes(texts=TEXTS):
    from llama_index.core.schema import NodeWithScore, TextNode

    return [NodeWithScore(node=TextNode(text=t, id_=f"n{i}", metadata={"title": f"T{i}"})) for i, t in enumerate(texts)]


def node_ranking(out):
    return [(int(n.node.id_[1:]), n.score) for n in out]


def test_llama_index_cohere_rerank(server, rr):
    pytest.importorskip("llama_index.postprocessor.cohere_rerank")
    from cohere.errors import UnauthorizedError
    from llama_index.core.schema import MetadataMode
    from llama_index.postprocessor.cohere_rerank import CohereRerank

    ns = nodes()
    p = CohereRerank(top_n=len(ns), model="fastrerank", api_key=KEY, base_url=server)
    embedded = [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in ns]
    assert node_ranking(p.postprocess_nodes(ns, query_str=QUERY)) == near(expected(rr, embedded))
    assert node_ranking(asyncio.run(p.apostprocess_nodes(nodes(), query_str=QUERY))) == near(expected(rr, embedded))
    with pytest.raises(UnauthorizedError):
        CohereRerank(model="fastrerank", api_key="wrong", base_url=server, max_retries=1).postprocess_nodes(nodes(), query_str=QUERY)


def test_llama_index_tei(server, rr):
    pytest.importorskip("llama_index.postprocessor.tei_rerank")
    from llama_index.postprocessor.tei_rerank import TextEmbeddingInference

    # its auth_token is the whole Authorization header; it needs every text scored back
    p = TextEmbeddingInference(top_n=3, base_url=server, auth_token=f"Bearer {KEY}")
    assert node_ranking(p.postprocess_nodes(nodes(), query_str=QUERY)) == near(expected(rr, TEXTS, 3))  # node.text: no metadata
    wide = TextEmbeddingInference(top_n=50, base_url=server, auth_token=f"Bearer {KEY}")
    assert node_ranking(wide.postprocess_nodes(nodes(), query_str=QUERY)) == near(expected(rr, TEXTS))
    assert p.postprocess_nodes([], query_str=QUERY) == []
    with pytest.raises(AssertionError):  # an error body is not a list of scores: the client's own assert trips
        TextEmbeddingInference(base_url=server, auth_token="Bearer wrong").postprocess_nodes(nodes(), query_str=QUERY)


# ---- Haystack: CohereRanker and HuggingFaceTEIRanker ------------------------------------------


def hdocs(texts=TEXTS):
    from haystack import Document

    return [Document(content=t, meta={"n": i}) for i, t in enumerate(texts)]


def doc_ranking(out):
    return [(d.meta["n"], d.score) for d in out["documents"]]


def test_haystack_cohere_ranker(server, rr):
    pytest.importorskip("haystack_integrations.components.rankers.cohere")
    from haystack.utils import Secret
    from haystack_integrations.components.rankers.cohere import CohereRanker

    r = CohereRanker(model="fastrerank", top_k=len(TEXTS), api_key=Secret.from_token(KEY), api_base_url=server)
    got = doc_ranking(r.run(query=QUERY, documents=hdocs()))
    assert got == near(expected(rr, TEXTS))
    assert doc_ranking(asyncio.run(r.run_async(query=QUERY, documents=hdocs()))) == got
    with pytest.raises(Exception, match="(?i)invalid api key|401"):
        CohereRanker(model="fastrerank", api_key=Secret.from_token("wrong"), api_base_url=server).run(query=QUERY, documents=hdocs())


def test_haystack_tei_ranker(server, rr, logits):
    pytest.importorskip("haystack_integrations.components.rankers.huggingface_api")
    from haystack import Document
    from haystack.utils import Secret
    from haystack_integrations.components.rankers.huggingface_api import HuggingFaceTEIRanker
    from haystack_integrations.components.rankers.huggingface_api.ranker import TruncationDirection

    token = Secret.from_token(KEY)
    r = HuggingFaceTEIRanker(url=server, top_k=len(TEXTS), token=token)
    got = doc_ranking(r.run(query=QUERY, documents=hdocs()))
    assert got == near(expected(rr, TEXTS))
    assert doc_ranking(asyncio.run(r.run_async(query=QUERY, documents=hdocs()))) == got
    assert doc_ranking(HuggingFaceTEIRanker(url=server, top_k=2, token=token).run(query=QUERY, documents=hdocs())) == near(
        expected(rr, TEXTS, 2)
    )
    raw = HuggingFaceTEIRanker(url=server, top_k=3, raw_scores=True, token=token)
    assert doc_ranking(raw.run(query=QUERY, documents=hdocs())) == near(expected(logits, TEXTS, 3))
    long = [Document(content=LONG, meta={"n": 0}), Document(content=TEXTS[0], meta={"n": 1})]
    for direction, side in ((TruncationDirection.LEFT, "left"), (TruncationDirection.RIGHT, "right")):
        truncated = doc_ranking(r.run(query=QUERY, documents=long, truncation_direction=direction))
        assert truncated == near(expected(rr, [LONG, TEXTS[0]], max_windows_per_doc=1, truncation_side=side))
    with pytest.raises(RuntimeError, match="400"):  # an empty query: TEI's error body, status 400
        r.run(query=" ", documents=hdocs())
    with pytest.raises(RuntimeError, match="400"):  # it sends content=None as null, which TEI refuses too
        r.run(query=QUERY, documents=[Document(content=None)])
    with pytest.raises(RuntimeError, match="401"):
        HuggingFaceTEIRanker(url=server, token=Secret.from_token("wrong")).run(query=QUERY, documents=hdocs())
