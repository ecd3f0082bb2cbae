"""fastrerank._core.pack against the plain-Python reference, on random inputs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastrerank import _core

import reference as ref


def core_template(t: ref.Template) -> _core.PairTemplate:
    return _core.PairTemplate(**dataclasses.asdict(t))


def ragged(seqs: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(s) for s in seqs])
    flat = np.fromiter((x for s in seqs for x in s), dtype=np.int32, count=int(offsets[-1]))
    return flat, offsets


def per_query(value, dtype):
    """A per-query list as the array the core takes; a scalar as it is."""
    if isinstance(value, list):
        return np.array([_core.NO_LIMIT if v is None else v for v in value], dtype=dtype)
    return _core.NO_LIMIT if value is None else value


def run_core(
    queries, docs, doc_query, t, max_length, max_tokens_per_doc, budget, pad_id, types=True, overhead=-1, max_windows=None, keep_end=False
):
    q_flat, q_off = ragged(queries)
    d_flat, d_off = ragged(docs)
    return _core.pack(
        q_flat,
        d_flat,
        d_off,
        core_template(t),
        max_length=max_length,
        max_tokens_per_doc=per_query(max_tokens_per_doc, np.int64),
        max_batch_tokens=budget,
        pad_id=pad_id,
        token_type_ids=types,
        query_offsets=q_off,
        doc_query=None if doc_query is None else np.asarray(doc_query, dtype=np.int32),
        batch_overhead=overhead,
        max_windows_per_doc=per_query(max_windows, np.int64),
        keep_end=np.array(keep_end, dtype=np.bool_) if isinstance(keep_end, list) else keep_end,
    )


def assert_same(packed: _core.PackPlan, expected: list[ref.RefBatch], windows: list[int], types=True):
    assert len(packed) == len(expected)
    assert packed.windows_per_doc.tolist() == windows
    assert packed.n_rows == sum(windows)
    assert packed.batch_shapes == [(len(b.row_docs), len(b.input_ids[0])) for b in expected]
    real = padded = 0
    for i, want in enumerate(expected):
        ids, mask, tt, rows = packed.batch(i)
        for a in (ids, mask) + ((tt,) if types else ()):
            assert a.dtype == np.int64 and a.flags.c_contiguous
        assert ids.tolist() == want.input_ids
        assert mask.tolist() == want.attention_mask
        if types:
            assert tt.tolist() == want.token_type_ids
        else:
            assert tt is None
        assert rows.tolist() == want.row_docs
        real += int(mask.sum())
        padded += mask.size
    assert packed.real_tokens == real
    assert packed.padded_tokens == padded


ids = st.integers(min_value=1000, max_value=30000)


@st.composite
def templates(draw):
    choice = draw(st.sampled_from(["bert", "xlmr", "random"]))
    if choice == "bert":
        return ref.BERT
    if choice == "xlmr":
        return ref.XLMR
    parts = [draw(st.lists(st.integers(1, 999), max_size=3)) for _ in range(3)]
    types = [draw(st.lists(st.integers(0, 2), min_size=len(p), max_size=len(p))) for p in parts]
    return ref.Template(parts[0], types[0], draw(st.integers(0, 2)), parts[1], types[1], draw(st.integers(0, 2)), parts[2], types[2])


@st.composite
def doc_lists(draw, max_docs=12):
    lengths = draw(st.lists(st.one_of(st.integers(0, 40), st.integers(0, 5000)), max_size=max_docs))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    return [rng.integers(1000, 30000, size=n).tolist() for n in lengths]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    t=templates(),
    query=st.lists(ids, max_size=80),
    docs=doc_lists(),
    extra=st.integers(2, 600),
    max_tokens_per_doc=st.integers(1, 5000),
    budget=st.integers(1, 5000),
    pad_id=st.integers(0, 5),
    types=st.booleans(),
)
def test_pack_matches_reference(t, query, docs, extra, max_tokens_per_doc, budget, pad_id, types):
    max_length = t.special + extra
    packed = run_core([query], docs, None, t, max_length, max_tokens_per_doc, budget, pad_id, types)
    expected, windows = ref.pack([query], docs, None, t, max_length, max_tokens_per_doc, budget, pad_id)
    assert_same(packed, expected, windows, types)
    assert packed.query_tokens.tolist() == [min(len(query), ref.query_limit(t.special, max_length))]


@st.composite
def multi_query_cases(draw):
    """(template, queries, documents, each document's query, max_length)."""
    t = draw(templates())
    queries = draw(st.lists(st.lists(ids, max_size=30), min_size=1, max_size=4))
    docs = draw(doc_lists())
    doc_query = draw(st.lists(st.integers(0, len(queries) - 1), min_size=len(docs), max_size=len(docs)))
    return t, queries, docs, doc_query, t.special + draw(st.integers(2, 100))


@st.composite
def doc_limits(draw, n_queries):
    """(max_tokens_per_doc, max_windows_per_doc, keep_end): one value each for all queries, or
    a list with one per query."""
    value = {"tokens": st.integers(1, 400), "windows": st.one_of(st.none(), st.integers(1, 4)), "keep_end": st.booleans()}
    if draw(st.booleans()):
        return tuple(draw(v) for v in value.values())
    return tuple(draw(st.lists(v, min_size=n_queries, max_size=n_queries)) for v in value.values())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=multi_query_cases(), data=st.data(), budget=st.integers(1, 2000))
def test_pack_many_queries_with_their_own_limits_matches_reference(case, data, budget):
    """Several queries, each with its document limits: max_tokens_per_doc, Cohere v1's
    max_chunks_per_doc (a window cap) and TEI's truncate / truncation_direction (the kept
    tokens from the start or the end)."""
    t, queries, docs, doc_query, max_length = case
    tokens, windows, keep_end = data.draw(doc_limits(len(queries)))
    packed = run_core(queries, docs, doc_query, t, max_length, tokens, budget, 0, max_windows=windows, keep_end=keep_end)
    expected, want_windows = ref.pack(
        queries, docs, doc_query, t, max_length, tokens, budget, 0, max_windows_per_doc=windows, keep_end=keep_end
    )
    assert_same(packed, expected, want_windows)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    case=multi_query_cases(),
    max_tokens_per_doc=st.integers(1, 400),
    max_windows=st.one_of(st.none(), st.integers(1, 4)),
    keep_end=st.booleans(),
)
def test_plan_documents_matches_the_rows_pack_builds(case, max_tokens_per_doc, max_windows, keep_end):
    """The per-document plan (no rows built) is what packing does: every document's windows,
    first kept token, kept tokens, longest row and tokens, from the reference's rows."""
    t, queries, docs, doc_query, max_length = case
    _, q_off = ragged(queries)
    _, d_off = ragged(docs)
    query_tokens, first, kept, windows, first_row, tokens = _core.plan_documents(
        q_off,
        d_off,
        core_template(t),
        max_length=max_length,
        max_tokens_per_doc=max_tokens_per_doc,
        max_windows_per_doc=_core.NO_LIMIT if max_windows is None else max_windows,
        keep_end=keep_end,
        doc_query=np.asarray(doc_query, dtype=np.int32),
    )
    limit = ref.query_limit(t.special, max_length)
    assert query_tokens.tolist() == [min(len(q), limit) for q in queries]
    for d, doc in enumerate(docs):
        q = min(len(queries[doc_query[d]]), limit)
        window = ref.doc_window(t.special, max_length, q)
        part = ref.kept_part(doc, window, max_tokens_per_doc, max_windows, keep_end)
        rows = [len(part[i : i + window]) for i in range(0, len(part), window)] or [0]
        assert (kept[d], windows[d]) == (len(part), len(rows))
        assert first[d] == (len(doc) - len(part) if keep_end else 0)
        assert first_row[d] == t.special + q + rows[0]
        assert tokens[d] == sum(t.special + q + r for r in rows)


def test_per_query_limits_need_one_value_per_query():
    with pytest.raises(ValueError, match="one per query"):
        run_core([[5], [6]], [[1, 2]], [0], ref.BERT, 16, [4, 4, 4], 100, 0)
    with pytest.raises(ValueError, match="max_windows_per_doc must be at least 1"):
        run_core([[5]], [[1, 2]], None, ref.BERT, 16, 10, 100, 0, max_windows=0)


@settings(max_examples=300, deadline=None)
@given(
    lengths=st.lists(st.one_of(st.integers(0, 12), st.integers(0, 600)), max_size=120),
    budget=st.integers(1, 3000),
    overhead=st.one_of(st.just(-1), st.integers(0, 3), st.integers(0, 2000)),
)
def test_cut_batches_matches_reference(lengths, budget, overhead):
    lengths = sorted(lengths, reverse=True)
    got = _core.cut_batches(np.array(lengths, dtype=np.int32), budget, overhead)
    want = [(rows, length, start) for start, rows, length in ref.cut(len(lengths), lengths, budget, overhead)]
    assert got == want
    assert sum(rows for rows, _, _ in got) == len(lengths)
    for rows, length, start in got:
        assert rows == 1 or rows * length <= budget
        assert length == (lengths[start] if lengths else 0)


def test_cut_batches_refuses_an_overhead_that_could_overflow():
    lengths = np.array([512] * 10, dtype=np.int32)
    assert len(_core.cut_batches(lengths, 1024, 1 << 31)) == 5
    with pytest.raises(ValueError, match="batch_overhead"):
        _core.cut_batches(lengths, 1024, (1 << 31) + 1)


def test_least_cost_cut_is_optimal_and_never_worse_than_greedy():
    rng = np.random.default_rng(3)
    for _ in range(50):
        lengths = sorted(rng.integers(1, 512, size=int(rng.integers(1, 60))).tolist(), reverse=True)
        for overhead in (0, 8, 64):
            cost = lambda spans, overhead=overhead: sum(overhead + rows * length for rows, length, _ in spans)  # noqa: E731
            least = _core.cut_batches(np.array(lengths, np.int32), 1024, overhead)
            greedy = _core.cut_batches(np.array(lengths, np.int32), 1024, -1)
            assert cost(least) <= cost(greedy)
    with pytest.raises(ValueError, match="sorted longest first"):
        _core.cut_batches(np.array([1, 5], np.int32), 10, 0)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    t=templates(),
    query=st.lists(ids, max_size=20),
    docs=doc_lists(max_docs=8),
    extra=st.integers(30, 300),
    max_tokens_per_doc=st.integers(1, 600),
    budget=st.integers(1, 3000),
    overhead=st.integers(0, 500),
)
def test_pack_with_least_cost_batches_matches_reference(t, query, docs, extra, max_tokens_per_doc, budget, overhead):
    max_length = t.special + extra
    packed = run_core([query], docs, None, t, max_length, max_tokens_per_doc, budget, 0, True, overhead)
    expected, windows = ref.pack([query], docs, None, t, max_length, max_tokens_per_doc, budget, 0, overhead)
    assert_same(packed, expected, windows)


def test_window_of_one_document_token():
    # max_length leaves 2 tokens: the query keeps 1, every window holds 1 document token
    docs = [[7, 8, 9], []]
    packed = run_core([[5, 6]], docs, None, ref.BERT, 5, 100, 100, 0)
    expected, windows = ref.pack([[5, 6]], docs, None, ref.BERT, 5, 100, 100, 0)
    assert windows == [3, 1]
    assert_same(packed, expected, windows)
    assert packed.batch(0)[0][0].tolist() == [101, 5, 102, 7, 102]


def test_batches_stay_within_budget_and_pad_to_own_longest():
    rng = np.random.default_rng(0)
    docs = [rng.integers(1000, 2000, size=n).tolist() for n in rng.integers(0, 700, size=300)]
    packed = run_core([[5, 6, 7]], docs, None, ref.BERT, 512, 4096, 1024, 0)
    for i, (rows, length) in enumerate(packed.batch_shapes):
        assert rows == 1 or rows * length <= 1024
        mask = packed.batch(i)[1]
        assert mask[0].sum() == length  # the first row is the longest: no all-padding column
    # sorted longest first across batches
    lengths = [packed.batch(i)[1].sum(axis=1) for i in range(len(packed))]
    flat = np.concatenate(lengths)
    assert (np.diff(flat) <= 0).all()


def test_batch_arrays_outlive_the_plan_and_inputs():
    q = np.array([5, 6], dtype=np.int32)
    d = np.arange(1000, 1010, dtype=np.int32)
    off = np.array([0, 4, 10], dtype=np.int64)
    packed = _core.pack(q, d, off, core_template(ref.BERT), max_length=16, max_tokens_per_doc=100, max_batch_tokens=64, pad_id=0)
    del q, d, off  # the plan keeps its inputs alive
    first = packed.batch(0)
    windows = packed.windows_per_doc
    del packed
    assert first[0][0, :4].tolist() == [101, 5, 6, 102]
    assert windows.tolist() == [1, 1]


def _pack(**overrides):
    args = dict(
        query_ids=np.array([5], np.int32),
        doc_ids=np.array([1, 2, 3], np.int32),
        doc_offsets=np.array([0, 2, 3], np.int64),
        template=core_template(ref.BERT),
        max_length=16,
        max_tokens_per_doc=100,
        max_batch_tokens=64,
        pad_id=0,
    )
    args.update(overrides)
    return _core.pack(**args)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(doc_offsets=np.array([0, 3, 2], np.int64)), "out of order"),
        (dict(doc_offsets=np.array([0, 2, 9], np.int64)), "past the 3 token ids"),
        (dict(doc_offsets=np.array([-1, 2, 3], np.int64)), "negative"),
        (dict(doc_offsets=np.array([], np.int64)), "got none"),
        (dict(max_length=3), "max_length 3"),
        (dict(max_length=-7), "max_length -7"),
        (dict(max_tokens_per_doc=0), "max_tokens_per_doc"),
        (dict(max_tokens_per_doc=-1), "max_tokens_per_doc"),
        (dict(max_batch_tokens=-10), "max_batch_tokens"),
        (dict(doc_query=np.array([0, 1], np.int32)), "doc_query[1]"),
        (dict(doc_query=np.array([0], np.int32)), "doc_query has 1 entries"),
        (dict(query_offsets=np.array([0, 5], np.int64)), "past the 1 token ids"),
        (dict(query_offsets=np.array([0], np.int64)), "without a query"),
    ],
)
def test_bad_arguments_raise_value_error(overrides, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _pack(**overrides)


def test_template_type_mismatch_raises():
    with pytest.raises(ValueError, match="suffix has 1 token ids but 0 type ids"):
        _core.PairTemplate(
            prefix=[1], prefix_types=[0], query_type=0, middle=[2], middle_types=[0], doc_type=1, suffix=[2], suffix_types=[]
        )


def test_batch_index_out_of_range():
    packed = _pack()
    with pytest.raises(IndexError):
        packed.batch(len(packed))
    assert packed.batch(-1)[0].shape[0] >= 1


def test_query_token_limit_rule():
    assert _core.query_token_limit(core_template(ref.BERT), 512) == ref.query_limit(3, 512) == 254
    assert _core.query_token_limit(core_template(ref.XLMR), 512) == ref.query_limit(4, 512) == 254
    with pytest.raises(ValueError):
        _core.query_token_limit(core_template(ref.BERT), 4)
