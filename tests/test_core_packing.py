"""fastrerank._core.pack against the plain-Python reference, on random inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reference as ref
from fastrerank import _core


def core_template(t: ref.Template) -> _core.PairTemplate:
    return _core.PairTemplate(
        prefix=t.prefix,
        prefix_types=t.prefix_types,
        query_type=t.query_type,
        middle=t.middle,
        middle_types=t.middle_types,
        doc_type=t.doc_type,
        suffix=t.suffix,
        suffix_types=t.suffix_types,
    )


def ragged(seqs: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(s) for s in seqs])
    flat = np.fromiter((x for s in seqs for x in s), dtype=np.int32, count=int(offsets[-1]))
    return flat, offsets


def run_core(queries, docs, doc_query, t, max_length, max_tokens_per_doc, budget, pad_id, types=True, overhead=-1):
    q_flat, q_off = ragged(queries)
    d_flat, d_off = ragged(docs)
    return _core.pack(
        q_flat,
        d_flat,
        d_off,
        core_template(t),
        max_length=max_length,
        max_tokens_per_doc=max_tokens_per_doc,
        max_batch_tokens=budget,
        pad_id=pad_id,
        token_type_ids=types,
        query_offsets=q_off,
        doc_query=None if doc_query is None else np.asarray(doc_query, dtype=np.int32),
        batch_overhead=overhead,
    )


def assert_same(packed: _core.Packed, expected: list[ref.RefBatch], windows: list[int], types=True):
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
    assert packed.query_tokens.tolist() == [min(len(query), ref.query_limit(t, max_length))]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    t=templates(),
    queries=st.lists(st.lists(ids, max_size=30), min_size=1, max_size=4),
    docs=doc_lists(),
    data=st.data(),
    extra=st.integers(2, 100),
    max_tokens_per_doc=st.integers(1, 300),
    budget=st.integers(1, 2000),
)
def test_pack_many_queries_matches_reference(t, queries, docs, data, extra, max_tokens_per_doc, budget):
    doc_query = data.draw(st.lists(st.integers(0, len(queries) - 1), min_size=len(docs), max_size=len(docs)))
    max_length = t.special + extra
    packed = run_core(queries, docs, doc_query, t, max_length, max_tokens_per_doc, budget, 0)
    expected, windows = ref.pack(queries, docs, doc_query, t, max_length, max_tokens_per_doc, budget, 0)
    assert_same(packed, expected, windows)


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
            cost = lambda spans: sum(overhead + rows * length for rows, length, _ in spans)  # noqa: E731
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
        _core.PairTemplate(prefix=[1], prefix_types=[0], query_type=0, middle=[2], middle_types=[0], doc_type=1, suffix=[2], suffix_types=[])


def test_batch_index_out_of_range():
    packed = _pack()
    with pytest.raises(IndexError):
        packed.batch(len(packed))
    assert packed.batch(-1)[0].shape[0] >= 1


def test_query_token_limit_rule():
    assert _core.query_token_limit(core_template(ref.BERT), 512) == (512 - 3) // 2
    assert _core.query_token_limit(core_template(ref.XLMR), 512) == (512 - 4) // 2
    with pytest.raises(ValueError):
        _core.query_token_limit(core_template(ref.BERT), 4)
