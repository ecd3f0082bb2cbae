"""fastrerank.integrations.langchain against langchain-core, and beside langchain_cohere.CohereRerank."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("langchain_core")
from langchain_core.documents import BaseDocumentCompressor, Document

from conftest import KEY, MODEL, QUERY, TEXTS, expected, near
from fastrerank import Reranker
from fastrerank.integrations.langchain import FastRerankCompressor


def docs(texts=TEXTS):
    return [Document(page_content=t, metadata={"n": i, "title": f"T{i}"}, id=f"d{i}") for i, t in enumerate(texts)]


def ranking(out):
    return [(d.metadata["n"], d.metadata["relevance_score"]) for d in out]


def test_order_and_scores_equal_rerank(rr):
    c = FastRerankCompressor(model=MODEL, top_n=None)
    assert isinstance(c, BaseDocumentCompressor) and c.reranker is rr
    out = c.compress_documents(docs(), QUERY)
    assert ranking(out) == expected(rr, TEXTS)
    assert len({s for _, s in ranking(out)}) > 1  # the model tells the documents apart


def test_async_equals_sync(rr):
    c = FastRerankCompressor(model=rr, top_n=4)
    assert (
        ranking(asyncio.run(c.acompress_documents(docs(), QUERY))) == ranking(c.compress_documents(docs(), QUERY)) == expected(rr, TEXTS, 4)
    )
    assert asyncio.run(c.acompress_documents([], QUERY)) == []


@pytest.mark.parametrize("top_n", [3, 1, 50, None])
def test_behaves_as_cohere_rerank(server, rr, top_n):
    """The same cut, documents and order as langchain_cohere.CohereRerank over fastrerank serve,
    for the default cut, a cut past the list, no cut, and documents without text."""
    cohere_rerank = pytest.importorskip("langchain_cohere").CohereRerank
    options = {} if top_n == 3 else {"top_n": top_n}  # 3: both defaults
    theirs = cohere_rerank(base_url=server, model="fastrerank", cohere_api_key=KEY, **options)
    ours = FastRerankCompressor(model=rr, **options)
    for texts in (TEXTS, ["", " ", ""], []):
        got, want = ours.compress_documents(docs(texts), QUERY), theirs.compress_documents(docs(texts), QUERY)
        assert [d.page_content for d in got] == [d.page_content for d in want]
        assert ranking(got) == near(ranking(want))


def test_copies_keep_id_and_leave_the_input(rr):
    d = docs()
    out = FastRerankCompressor(model=rr, top_n=2).compress_documents(d, QUERY)
    assert [x.id for x in out] == [f"d{i}" for i, _ in expected(rr, TEXTS, 2)]
    assert all("relevance_score" not in x.metadata for x in d)
    assert all(x is not y and x.metadata is not y.metadata for x in out for y in d)


def test_score_threshold(rr):
    ref = expected(rr, TEXTS)
    cut = ref[2][1]
    out = FastRerankCompressor(model=rr, top_n=None, score_threshold=cut).compress_documents(docs(), QUERY)
    assert ranking(out) == [p for p in ref if p[1] >= cut] and 3 <= len(out) < len(ref)


def test_rank_fields_name_metadata_and_the_text(rr):
    d = docs()
    out = FastRerankCompressor(model=rr, top_n=None, rank_fields=["title", "page_content"]).compress_documents(d, QUERY)
    as_dicts = [{"title": x.metadata["title"], "page_content": x.page_content} for x in d]
    assert ranking(out) == expected(rr, as_dicts, rank_fields=["title", "page_content"])
    assert ranking(out) != expected(rr, TEXTS)
    with pytest.raises(ValueError, match=r"rank_fields names \['missing'\]"):
        FastRerankCompressor(model=rr, rank_fields=["missing"]).compress_documents(d, QUERY)


def test_one_shared_reranker_and_checked_options(rr):
    assert FastRerankCompressor(model=MODEL).reranker is rr
    other = FastRerankCompressor(model=MODEL, reranker_kwargs={"normalize": "none"}).reranker
    assert other is not rr and other.normalize == "none"
    assert FastRerankCompressor(model=MODEL, reranker_kwargs={"normalize": "none"}).reranker is other
    with pytest.raises(ValueError, match="model"):  # pydantic's ValidationError
        FastRerankCompressor(model=42)
    with pytest.raises(TypeError, match="reranker_kwargs"):
        FastRerankCompressor(model=rr, reranker_kwargs={"threads": 1})
    with pytest.raises(ValueError, match="top_n"):
        FastRerankCompressor(model=rr, top_n=0)
    with pytest.raises(ValueError, match="query is empty"):
        FastRerankCompressor(model=rr).compress_documents(docs(), " ")
    assert isinstance(FastRerankCompressor(model=rr).reranker, Reranker)


def test_in_a_contextual_compression_retriever(rr):
    classic = pytest.importorskip("langchain_classic.retrievers")
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.retrievers import BaseRetriever

    class Everything(BaseRetriever):
        def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
            return docs()

    compressor = FastRerankCompressor(model=MODEL, top_n=3)
    retriever = classic.ContextualCompressionRetriever(base_compressor=compressor, base_retriever=Everything())
    assert ranking(retriever.invoke(QUERY)) == expected(rr, TEXTS, 3)
    assert ranking(asyncio.run(retriever.ainvoke(QUERY))) == expected(rr, TEXTS, 3)
