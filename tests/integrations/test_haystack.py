"""fastrerank.integrations.haystack against haystack-ai, and beside cohere-haystack's CohereRanker."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("haystack")
from haystack import Document, Pipeline
from haystack.core.errors import DeserializationError

from conftest import KEY, MODEL, QUERY, TEXTS, expected, near
from fastrerank.integrations.haystack import FastRerankRanker


def docs(texts=TEXTS):
    return [Document(content=t, meta={"n": i, "title": f"T{i}"}) for i, t in enumerate(texts)]


def ranking(out):
    return [(d.meta["n"], d.score) for d in out["documents"]]


def test_order_and_scores_equal_rerank(rr):
    out = FastRerankRanker(model=MODEL, top_k=len(TEXTS)).run(query=QUERY, documents=docs())
    assert ranking(out) == expected(rr, TEXTS)


def test_async_equals_sync(rr):
    r = FastRerankRanker(model=rr, top_k=3)
    assert ranking(asyncio.run(r.run_async(query=QUERY, documents=docs()))) == ranking(r.run(query=QUERY, documents=docs()))
    assert asyncio.run(r.run_async(query=QUERY, documents=[])) == {"documents": []}


@pytest.mark.parametrize("top_k", [10, 2, 50])
def test_behaves_as_cohere_ranker(server, rr, top_k):
    """The same cut, documents and order as CohereRanker over fastrerank serve: the default cut
    (10, past this list), a shorter one, documents without content, empty input."""
    cohere = pytest.importorskip("haystack_integrations.components.rankers.cohere")
    from haystack.utils import Secret

    options = {} if top_k == 10 else {"top_k": top_k}
    theirs = cohere.CohereRanker(model="fastrerank", api_key=Secret.from_token(KEY), api_base_url=server, **options)
    ours = FastRerankRanker(model=rr, **options)
    no_content = [Document(content=None, meta={"n": 0}), Document(content="", meta={"n": 1}), Document(content=TEXTS[1], meta={"n": 2})]
    for documents in (docs(), no_content, []):
        got, want = ours.run(query=QUERY, documents=documents), theirs.run(query=QUERY, documents=documents)
        assert [d.id for d in got["documents"]] == [d.id for d in want["documents"]]
        assert ranking(got) == near(ranking(want))


def test_light_init_and_warm_up(rr):
    r = FastRerankRanker(model=MODEL)
    assert r._reranker is None  # nothing loaded yet
    r.warm_up()
    assert r._reranker is rr
    r.warm_up()
    assert r._reranker is rr
    lazy = FastRerankRanker(model=MODEL)
    lazy.run(query=QUERY, documents=docs())  # a run without a warm-up loads the model
    assert lazy._reranker is rr
    with pytest.raises(TypeError, match="reranker_kwargs"):
        FastRerankRanker(model=rr, reranker_kwargs={"threads": 1})


def test_top_k_score_threshold_and_empty_input(rr):
    r = FastRerankRanker(model=rr)
    assert len(r.run(query=QUERY, documents=docs())["documents"]) == len(TEXTS)
    assert ranking(r.run(query=QUERY, documents=docs(), top_k=2)) == expected(rr, TEXTS, 2)
    ref = expected(rr, TEXTS)
    cut = ref[2][1]
    above = [p for p in ref if p[1] >= cut]
    assert 3 <= len(above) < len(ref)
    assert ranking(r.run(query=QUERY, documents=docs(), score_threshold=cut)) == above
    assert ranking(FastRerankRanker(model=rr, score_threshold=cut).run(query=QUERY, documents=docs())) == above
    assert r.run(query=QUERY, documents=[], top_k=0) == {"documents": []}  # empty input first, as Haystack's rankers
    with pytest.raises(ValueError, match="top_k must be > 0"):
        r.run(query=QUERY, documents=docs(), top_k=0)
    with pytest.raises(ValueError, match="top_k must be > 0"):
        FastRerankRanker(model=rr, top_k=0)


def test_new_documents_with_scores(rr):
    d = docs()
    out = FastRerankRanker(model=rr).run(query=QUERY, documents=d)["documents"]
    assert all(x.score is None for x in d)
    assert {x.id for x in out} == {x.id for x in d} and all(o is not x for o in out for x in d)


def test_meta_fields_and_missing_content(rr):
    d = [Document(content=None, meta={"n": 0, "title": "Washington"}), Document(content="Nevada", meta={"n": 1, "title": None})]
    out = FastRerankRanker(model=rr, meta_fields_to_embed=["title"]).run(query=QUERY, documents=d)
    assert ranking(out) == expected(rr, ["Washington\n", "Nevada"])  # as SentenceTransformersSimilarityRanker


def test_duplicates_by_id_keep_the_best_scored_copy(rr):
    low = Document(content=TEXTS[1], meta={"n": 1}, score=0.1)
    high = Document(content=TEXTS[1], meta={"n": 1}, score=0.9)  # the same id: same content and meta
    out = FastRerankRanker(model=rr).run(query=QUERY, documents=[low, *docs()[2:], high])["documents"]
    assert [d.id for d in out].count(low.id) == 1 and len(out) == len(TEXTS) - 1


def test_a_saved_pipeline(rr):
    p = Pipeline()
    p.add_component("ranker", FastRerankRanker(model=MODEL, top_k=2, meta_fields_to_embed=["title"]))
    text = p.dumps()
    assert p.to_dict()["components"]["ranker"]["init_parameters"]["model"] == MODEL
    with pytest.raises(DeserializationError, match="allowlist"):  # Haystack 3 loads only modules it allows
        Pipeline.loads(text)
    loaded = Pipeline.loads(text, allowed_modules=["fastrerank.integrations.*"])
    loaded.warm_up()
    out = loaded.run({"ranker": {"query": QUERY, "documents": docs()}})["ranker"]
    assert ranking(out) == expected(rr, [f"T{i}\n{t}" for i, t in enumerate(TEXTS)], 2)
    again = asyncio.run(
        Pipeline.loads(text, allowed_modules=["fastrerank.integrations.*"]).run_async({"ranker": {"query": QUERY, "documents": docs()}})
    )
    assert ranking(again["ranker"]) == ranking(out)
    assert FastRerankRanker.from_dict(FastRerankRanker(model=rr).to_dict()).model == str(rr.model_path)
