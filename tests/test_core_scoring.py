"""fastrerank._core scoring (scatter_max, top_n) against the plain-Python reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastrerank import _core

import reference as ref

finite = st.floats(min_value=-60, max_value=60, allow_nan=False, width=32)


@st.composite
def logit_batches(draw):
    """Random documents split into random windows, rows shuffled into random batches."""
    n_docs = draw(st.integers(0, 30))
    cols = draw(st.sampled_from([1, 2]))
    windows = draw(st.lists(st.integers(1, 4), min_size=n_docs, max_size=n_docs))
    row_docs = [d for d, w in enumerate(windows) for _ in range(w)]
    perm = draw(st.permutations(range(len(row_docs))))
    row_docs = [row_docs[i] for i in perm]
    logits = draw(st.lists(st.lists(finite, min_size=cols, max_size=cols), min_size=len(row_docs), max_size=len(row_docs)))
    cuts = sorted(draw(st.lists(st.integers(0, len(row_docs)), max_size=4)))
    bounds = [0, *cuts, len(row_docs)]
    batches = []
    for a, b in zip(bounds, bounds[1:]):
        arr = np.array(logits[a:b], dtype=np.float32).reshape(b - a, cols)
        shape = draw(st.sampled_from(["2d", "1d"])) if cols == 1 else "2d"
        batches.append((arr.reshape(-1) if shape == "1d" else arr, np.array(row_docs[a:b], dtype=np.int32)))
    return n_docs, cols, logits, row_docs, batches


@settings(max_examples=300, deadline=None)
@given(case=logit_batches(), how=st.sampled_from(["auto", "sigmoid", "softmax", "none"]), data=st.data())
def test_scatter_and_rank_match_reference(case, how, data):
    n_docs, cols, logits, row_docs, batches = case
    if how == "softmax" and cols == 1:
        with pytest.raises(ValueError, match="two logits"):
            _core.scatter_max([b[0] for b in batches], [b[1] for b in batches], n_docs, how)
        return
    scores = _core.scatter_max([b[0] for b in batches], [b[1] for b in batches], n_docs, how)
    expected = ref.scatter_max(logits, row_docs, n_docs, how)
    assert scores.dtype == np.float32 and scores.shape == (n_docs,)
    np.testing.assert_allclose(scores, np.array(expected), rtol=1e-6, atol=1e-7)

    n = data.draw(st.integers(1, n_docs + 5))
    idx, top = _core.top_n(scores, n)
    assert idx.tolist() == ref.top_n(scores.tolist(), n)
    assert top.tolist() == scores[idx].tolist()


@settings(max_examples=300, deadline=None)
@given(
    scores=st.lists(st.one_of(st.sampled_from([0.0, 0.5, 1.0, float("nan")]), st.floats(0, 1, width=32)), max_size=60),
    n=st.integers(-1, 70),
)
def test_top_n_matches_reference(scores, n):
    arr = np.array(scores, dtype=np.float32)
    idx, top = _core.top_n(arr, n)
    want = ref.top_n(arr.tolist(), n)
    assert idx.tolist() == want
    assert np.array_equal(top, arr[want], equal_nan=True)


def test_sigmoid_and_softmax_values():
    one = np.array([[0.0], [2.0], [-3.0]], dtype=np.float32)
    s = _core.scatter_max([one], [np.array([0, 1, 2], np.int32)], 3, "auto")
    np.testing.assert_allclose(s, [0.5, 1 / (1 + math.exp(-2)), 1 / (1 + math.exp(3))], rtol=1e-6)
    two = np.array([[1.0, 3.0]], dtype=np.float32)
    s = _core.scatter_max([two], [np.array([0], np.int32)], 1, "auto")
    assert s[0] == pytest.approx(math.exp(3) / (math.exp(1) + math.exp(3)), rel=1e-6)
    raw = _core.scatter_max([two], [np.array([0], np.int32)], 1, "none")
    assert raw[0] == 3.0


def test_max_over_windows_then_rank():
    logits = np.array([[-1.0], [4.0], [0.0], [1.0]], dtype=np.float32)
    rows = np.array([0, 0, 1, 1], dtype=np.int32)
    idx, top = _core.top_n(_core.scatter_max([logits], [rows], 2, "none"), -1)
    assert idx.tolist() == [0, 1]
    assert top.tolist() == [4.0, 1.0]


@pytest.mark.parametrize(
    "logits, rows, n_docs, how, message",
    [
        ([np.zeros((2, 3), np.float32)], [np.array([0, 1], np.int32)], 2, "auto", "3 columns"),
        ([np.zeros((2, 1), np.float32)], [np.array([0, 5], np.int32)], 2, "auto", r"outside \[0, 2\)"),
        ([np.zeros((2, 1), np.float32)], [np.array([0, 0], np.int32)], 2, "auto", "document 1 has no logits"),
        ([np.zeros((2, 1), np.float32)], [np.array([0], np.int32)], 2, "auto", "row map has 1"),
        ([np.zeros((2, 1), np.float32)], [], 2, "auto", "1 logits arrays for 0 row maps"),
        ([np.zeros((2, 1, 1), np.float32)], [np.array([0, 1], np.int32)], 2, "auto", "3 dimensions"),
        ([np.zeros((2, 1), np.float32)], [np.array([0, 1], np.int32)], 2, "cosine", "normalize must be one of"),
        ([np.zeros((2, 1), np.float32)], [np.array([0, 1], np.int32)], -2, "auto", "negative"),
    ],
)
def test_bad_arguments_raise_value_error(logits, rows, n_docs, how, message):
    with pytest.raises(ValueError, match=message):
        _core.scatter_max(logits, rows, n_docs, how)


def test_nan_window_is_ignored_unless_all_nan():
    logits = np.array([[np.nan], [1.0], [np.nan]], dtype=np.float32)
    rows = np.array([0, 0, 1], dtype=np.int32)
    s = _core.scatter_max([logits], [rows], 2, "none")
    assert s[0] == 1.0 and math.isnan(s[1])
    idx, _ = _core.top_n(s, -1)
    assert idx.tolist() == [0, 1]
