"""Bad input gets a TypeError/ValueError naming the argument; hostile but valid text is scored;
the Reranker keeps working afterwards."""

from __future__ import annotations

import json
import math
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastrerank import Reranker, inputs


@pytest.fixture(scope="module")
def rr(tiny_models):
    return Reranker(tiny_models["bert-1"])


GOOD_Q = "what is a reranker"
GOOD_DOCS = ["a reranker orders documents", "bananas are yellow"]


@pytest.mark.parametrize(
    "kwargs, error, needle",
    [
        (dict(documents=None), TypeError, "documents"),
        (dict(documents="a bare string"), TypeError, "documents"),
        (dict(documents=b"bytes"), TypeError, "documents"),
        (dict(documents=42), TypeError, "documents"),
        (dict(documents={"text": "a dict, not a list"}), TypeError, "documents"),
        (dict(documents=["ok", 3]), TypeError, r"documents\[1\]"),
        (dict(documents=["ok", None]), TypeError, r"documents\[1\] is None"),
        (dict(documents=[["nested"]]), TypeError, r"documents\[0\]"),
        (dict(query=None), TypeError, "query"),
        (dict(query=123), TypeError, "query"),
        (dict(query=["a"]), TypeError, "query"),
        (dict(query=""), ValueError, "query"),
        (dict(query="   \n\t"), ValueError, "query"),
        (dict(top_n=0), ValueError, "top_n"),
        (dict(top_n=-3), ValueError, "top_n"),
        (dict(top_n=2.0), TypeError, "top_n"),
        (dict(top_n="2"), TypeError, "top_n"),
        (dict(top_n=True), TypeError, "top_n"),
        (dict(max_tokens_per_doc=0), ValueError, "max_tokens_per_doc"),
        (dict(max_tokens_per_doc=-5), ValueError, "max_tokens_per_doc"),
        (dict(max_tokens_per_doc=10.5), TypeError, "max_tokens_per_doc"),
        (dict(max_tokens_per_doc=None), TypeError, "max_tokens_per_doc"),
        (dict(documents=[{"title": "no text"}]), ValueError, "'text'"),
        (dict(documents=[{"text": 5}]), TypeError, r"documents\[0\]\['text'\]"),
        (dict(documents=[{"Title": "t"}], rank_fields=["Title", "Body"]), ValueError, "rank_fields"),
        (dict(documents=[{"Title": "t"}], rank_fields="Title"), TypeError, "rank_fields"),
        (dict(documents=[{"Title": "t"}], rank_fields=[]), ValueError, "rank_fields"),
        (dict(documents=[{"Title": "t"}], rank_fields=[1]), TypeError, r"rank_fields\[0\]"),
        (dict(documents=[{"Title": "t"}], rank_fields=["Title", "Title"]), ValueError, r"'Title' twice \(again at rank_fields\[1\]\)"),
        (
            dict(documents=[{"Title": "t"}], rank_fields=[f"f{i}" for i in range(101)]),
            ValueError,
            "rank_fields names 101 fields, at most 100",
        ),
        (dict(truncation_side="x" * 10_000), ValueError, r"got 'x{39}\.\.\.$"),
        (dict(return_documents="yes"), TypeError, "return_documents"),
        (dict(max_windows_per_doc=0), ValueError, "max_windows_per_doc"),
        (dict(max_windows_per_doc=1.0), TypeError, "max_windows_per_doc"),
        (dict(truncation_side="middle"), ValueError, "truncation_side"),
        (dict(truncation_side=None), TypeError, "truncation_side"),
    ],
)
def test_bad_input_names_the_argument(rr, kwargs, error, needle):
    args = dict(query=GOOD_Q, documents=GOOD_DOCS) | kwargs
    with pytest.raises(error, match=needle):
        rr.rerank(**args)
    # and the Reranker still works
    assert len(rr.rerank(GOOD_Q, GOOD_DOCS).results) == 2


@pytest.mark.parametrize(
    "kwargs, error, needle",
    [
        (dict(device="tpu"), ValueError, "device"),
        (dict(device=3), TypeError, "device"),
        (dict(precision="fp8"), ValueError, "precision"),
        (dict(normalize="cosine"), ValueError, "normalize"),
        (dict(threads=0), ValueError, "threads"),
        (dict(threads=1.5), TypeError, "threads"),
        (dict(max_length=3), ValueError, "max_length"),
        (dict(max_length=100_000), ValueError, "max_length"),
        (dict(max_length="512"), TypeError, "max_length"),
        (dict(max_batch_tokens=0), ValueError, "max_batch_tokens"),
        (dict(max_batch_tokens=2.5), TypeError, "max_batch_tokens"),
        (dict(token_cache_bytes=-1), ValueError, "token_cache_bytes"),
        (dict(token_cache_bytes="64MB"), TypeError, "token_cache_bytes"),
        (dict(batch_overhead=1.5), TypeError, "batch_overhead"),
        (dict(batch_overhead=2**40), ValueError, "batch_overhead"),
        (dict(normalize="softmax"), ValueError, "two logits"),
    ],
)
def test_bad_constructor_arguments(tiny_models, kwargs, error, needle):
    with pytest.raises(error, match=needle):
        Reranker(tiny_models["bert-1"], **kwargs)


@pytest.mark.parametrize(
    "kwargs", [dict(max_batch_tokens=0), dict(threads="2"), dict(batch_overhead=2**40), dict(normalize="x"), dict(precision="fp8")]
)
def test_options_are_checked_before_the_model_is_looked_for(tmp_path, kwargs):
    with pytest.raises((TypeError, ValueError)):  # not FileNotFoundError: no model is looked for
        Reranker(tmp_path / "no-such-model", **kwargs)


def test_configuration_is_read_only(rr):
    with pytest.raises(AttributeError):
        rr.normalize = "softmax"  # would skip the one-logit check
    with pytest.raises(AttributeError):
        rr.max_batch_tokens = 7


def test_huge_limits_mean_no_limit(rr):
    whole = rr.rerank(GOOD_Q, GOOD_DOCS).results
    assert rr.rerank(GOOD_Q, GOOD_DOCS, max_tokens_per_doc=2**80, max_windows_per_doc=2**70).results == whole


def test_per_request_options_of_rerank_many(rr):
    docs = ["a " * 300, "b c", "d"]
    many = rr.rerank_many([(GOOD_Q, docs), (GOOD_Q, docs)], top_n=[1, None], max_tokens_per_doc=[2, 4096], max_windows_per_doc=[None, 1])
    assert [r.index for r in many[0].results] == [r.index for r in rr.rerank(GOOD_Q, docs, top_n=1, max_tokens_per_doc=2).results]
    assert [r.index for r in many[1].results] == [r.index for r in rr.rerank(GOOD_Q, docs, max_windows_per_doc=1).results]
    with pytest.raises(ValueError, match="top_n has 1 values for 2 requests"):
        rr.rerank_many([(GOOD_Q, docs), (GOOD_Q, docs)], top_n=[1])


def test_missing_model_and_missing_precision_file(tiny_models, tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        Reranker(tmp_path / "nope" / "deeper")
    with pytest.raises(FileNotFoundError, match="model_int8.onnx"):
        Reranker(tiny_models["bert-1"], precision="int8")
    with pytest.raises(FileNotFoundError, match="model.onnx"):
        Reranker(tmp_path)
    with pytest.raises(TypeError, match="model"):
        Reranker(None)  # type: ignore[arg-type]


HOSTILE = [
    "",
    " ",
    "\n\n\t\r",
    "\x00\x01\x02\x7f\x1b[31m",
    "😀" * 500,
    "مرحبا بالعالم — שלום עולם",  # RTL
    "\u202eoverride\u202c and zero\u200bwidth",
    "a" * 10_000,  # one word far longer than WordPiece's 100-character limit
    "\ud7ff\ue000\ufffd",
]


def test_hostile_text_is_scored(rr):
    resp = rr.rerank(GOOD_Q, HOSTILE)
    assert sorted(r.index for r in resp.results) == list(range(len(HOSTILE)))
    assert all(0.0 <= r.relevance_score <= 1.0 and not math.isnan(r.relevance_score) for r in resp.results)
    # hostile queries too
    for q in ["😀", "\x00 query", "a" * 5000, "مرحبا"]:
        assert len(rr.rerank(q, GOOD_DOCS).results) == 2


def test_megabyte_document_and_ten_thousand_documents(rr):
    big = ("lorem ipsum dolor sit amet " * 40_000)[: 1 << 20]
    resp = rr.rerank(GOOD_Q, [big, "short"], max_tokens_per_doc=4096)
    assert len(resp.results) == 2
    assert resp.meta.billed_units.search_units >= 1
    many = [f"document number {i}" for i in range(10_000)]
    resp = rr.rerank(GOOD_Q, many, top_n=5)
    assert len(resp.results) == 5
    assert resp.meta.billed_units.search_units == 100
    assert len(rr.rerank(GOOD_Q, GOOD_DOCS).results) == 2


def test_empty_document_list(rr):
    resp = rr.rerank(GOOD_Q, [])
    assert resp.results == []
    assert resp.to_dict()["results"] == []


def test_tuple_and_str_subclass_documents(rr):
    class Text(str):
        pass

    resp = rr.rerank(GOOD_Q, (Text("a reranker"), "b"))
    assert len(resp.results) == 2


# ---- rank_fields: what a dict document becomes, and its bounds --------------------------------

FIELD_VALUES = st.one_of(st.text(max_size=30), st.integers(), st.none(), st.booleans(), st.lists(st.integers(), max_size=3))


def rendered(doc, fields):
    """The plain rule: `key: value` lines, strings as they are, anything else as JSON."""
    return "\n".join(f"{f}: {v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}" for f, v in ((f, doc[f]) for f in fields))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8), FIELD_VALUES, min_size=1, max_size=6), st.data())
def test_rank_fields_text_and_its_length_bound_follow_the_plain_rule(doc, data):
    fields = data.draw(st.lists(st.sampled_from(sorted(doc)), min_size=1, unique=True))
    want = rendered(doc, fields)
    assert inputs.document_texts([doc], fields) == [want]
    assert inputs.document_texts([doc], fields, max_chars=len(want)) == [want]  # the bound is the text's exact length
    with pytest.raises(inputs.TextTooLong) as e:
        inputs.document_texts(["ok", doc], fields, max_chars=len(want) - 1)
    assert (e.value.index, e.value.length, e.value.limit) == (1, len(want), len(want) - 1)


def test_a_text_over_max_chars_is_refused_before_it_is_built():
    # 100 fields sharing one 100,000-character value: 100 kB of input that would be a 10 MB text
    value = "x" * 100_000
    doc = {f"field{i}": value for i in range(inputs.MAX_RANK_FIELDS)}
    tracemalloc.start()
    try:
        with pytest.raises(inputs.TextTooLong, match=r"documents\[0\] has 10000\d{3} characters, at most 100000"):
            inputs.document_texts([doc], list(doc), max_chars=100_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, peak
    # without a bound the library builds it (a caller's own large text is scored), once per field
    assert len(inputs.document_texts([doc], list(doc))[0]) == sum(len(f) + 2 + len(value) for f in doc) + len(doc) - 1


def test_messages_about_rank_fields_repeat_a_bounded_part_of_the_input():
    doc = {"k" * 1000: 1}
    missing = ["m" * 10_000 + str(i) for i in range(inputs.MAX_RANK_FIELDS)]
    with pytest.raises(ValueError) as e:
        inputs.document_texts([doc], missing)
    assert len(str(e.value)) < 1000 and "... 90 more]" in str(e.value)
    with pytest.raises(ValueError) as e:
        inputs.document_texts([{"y" * 100_000: 1}])
    assert len(str(e.value)) < 400
