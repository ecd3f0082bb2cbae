"""Relevant spans (max_spans): segmentation against the plain rule in tests/reference.py, on real
tokenizers' offsets and on made-up ones; spans end to end against scoring each span's text alone;
hostile text; the cost rule (only the returned documents, nothing without max_spans); bad options."""

from __future__ import annotations

import asyncio
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastrerank import DocumentLimits, EncodedRequest, Reranker, spans
from fastrerank.server.stub import StubEngine

import reference as ref
from texts import DOCUMENTS, LONG_DOCUMENT, SUPPORT_EMAILS

SETS = (spans.TERMINATORS, spans.CJK_TERMINATORS, spans.CLOSERS)
QUERY = "What is the capital of the United States?"
PROSE = [
    "Washington, D.C. is the capital of the United States. It is a federal district! Is New York bigger? Yes.",
    "The Debian FAQ answers questions.\n\nEach answer is a few paragraphs long, wrapped\nat seventy columns. (It reads well.) Done.",
    " ".join(f"Sentence number {i} says something short about topic {i % 7}." for i in range(40)),
]
HOSTILE = [
    "no punctuation at all just words flowing on and on " * 12,
    "x" * 10_000,
    "supercalifragilistic" * 40,
    "😀👍🏽🚀" * 50 + " emoji, then words. " + "🎉" * 30,
    "עברית: ירושלים היא בירת ישראל. " * 10 + "القاهرة هي عاصمة جمهورية مصر العربية وأكبر مدنها. " * 10,
    "東京都の人口は約1400万人で日本で最も人口の多い都道府県です" * 12,
    "東京都の人口は約1400万人です。日本で最も人口の多い都道府県です！" * 8,
    "tab\tseparated\nlines\r\n\r\nand control\x00chars\x07here\x1b[0m. " * 10,
    "...!!!???\"'))」」。。\n\n\n" * 10,
    "",
    "   \n\n ",
    "a",
]


@pytest.fixture(scope="module", params=["bert-1", "xlmr"])
def rr(request, tiny_models):
    return Reranker(tiny_models[request.param])


@pytest.fixture(scope="module")
def bert(tiny_models):
    return Reranker(tiny_models["bert-1"])


# ---- the segmentation rule ---------------------------------------------------------------------


def test_whitespace_is_what_isspace_says():
    assert set(spans.WHITESPACE.tolist()) == {c for c in range(0x110000) if chr(c).isspace()}


def _check_cuts(text: str, chars: list[tuple[int, int]], cuts: list[int], span_tokens: int) -> None:
    """What a segmentation must be, whatever the rule's details."""
    k = len(chars)
    strength = ref.cut_strengths(text, chars, *SETS)
    assert cuts[0] == 0 and cuts[-1] == k and all(a < b for a, b in zip(cuts, cuts[1:])) or (k == 0 and cuts == [0])
    sentence_starts = [0] + [i + 1 for i, s in enumerate(strength) if s == ref.SENTENCE] + [k]
    for a, b in zip(cuts, cuts[1:]):
        if a > 0:
            assert strength[a - 1] != ref.NO_CUT, "a cut splits a character"
        if b - a > span_tokens:  # too long only where nothing could be cut
            assert all(s == ref.NO_CUT for s in strength[a : a + span_tokens]), (a, b)
    for c in cuts[1:-1]:
        if strength[c - 1] != ref.SENTENCE:  # inside a sentence: only a sentence that is too long
            lo = max(s for s in sentence_starts if s < c)
            hi = min(s for s in sentence_starts if s > c)
            assert hi - lo > span_tokens
    ranges = ref.segment_chars(text, chars, cuts)
    assert all(0 <= s <= e <= len(text) for s, e in ranges)
    assert all(e0 <= s1 for (_, e0), (s1, _) in zip(ranges, ranges[1:])), "segments overlap"


# text drawn from what the rule looks at: terminators, closers, line breaks, CJK, emoji, RTL
ALPHABET = list("abcXYZ é3中文日本。！？｡.!?…,;:\"')]}」』’” \n\n\t\r\u3000\xa0😀👍🏽שלוםمرحبا-_/")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from(ALPHABET), max_size=160), span_tokens=st.integers(1, 24), data=st.data())
def test_segments_follow_the_rule_on_real_offsets(rr, text, span_tokens, data):
    all_chars = rr.tokenizer.encode_offsets([text])[0]
    first = data.draw(st.integers(0, len(all_chars)))
    chars = all_chars[first : data.draw(st.integers(first, len(all_chars)))]  # a kept part anywhere
    array = np.array(chars, dtype=np.int64).reshape(-1, 2)
    assert spans.cut_strengths(text, array).tolist() == ref.cut_strengths(text, chars, *SETS)
    cuts = spans.segment(text, array, span_tokens).tolist()
    assert cuts == ref.segment(text, chars, span_tokens, *SETS)
    _check_cuts(text, chars, cuts, span_tokens)


@st.composite
def made_up_offsets(draw):
    """Tokens over random text with gaps, zero-width tokens and tokens sharing characters."""
    text = draw(st.text(alphabet=st.sampled_from(ALPHABET), min_size=1, max_size=120))
    chars, at = [], draw(st.integers(0, 3))
    while at < len(text) and len(chars) < 60:
        width = draw(st.integers(0, 4))
        back = draw(st.sampled_from([0, 0, 0, 1]))  # sometimes overlap the token before
        start = max(0, at - back)
        chars.append((start, min(start + width, len(text))))
        at = min(start + width, len(text)) + draw(st.integers(0, 2))
    return text, chars


@settings(max_examples=200, deadline=None)
@given(case=made_up_offsets(), span_tokens=st.integers(1, 12))
def test_segments_follow_the_rule_on_made_up_offsets(case, span_tokens):
    text, chars = case
    array = np.array(chars, dtype=np.int64).reshape(-1, 2)
    assert spans.cut_strengths(text, array).tolist() == ref.cut_strengths(text, chars, *SETS)
    cuts = spans.segment(text, array, span_tokens).tolist()
    assert cuts == ref.segment(text, chars, span_tokens, *SETS)
    _check_cuts(text, chars, cuts, span_tokens)


def test_sentences_are_merged_and_split():
    text = "One two. Three four five. Six. " + "seven " * 10
    chars = [(m.start(), m.end()) for m in re.finditer(r"\w+|[^\w\s]", text)]
    array = np.array(chars, dtype=np.int64)
    assert spans.segment(text, array, 6).tolist() == [0, 3, 9, 15, 19]  # "One two." | "Three four five. Six." | seven x6 | x4
    assert spans.segment(text, array, 100).tolist() == [0, len(chars)]
    assert spans.segment(text, array, 1).tolist() == list(range(len(chars) + 1))
    # a long sentence is split at the strongest place of the last half of span_tokens, not at a
    # line break that would leave a one-word segment
    text = "alpha\nbeta gamma delta epsilon zeta eta theta"
    array = np.array([(m.start(), m.end()) for m in re.finditer(r"\w+", text)], dtype=np.int64)
    assert spans.cut_strengths(text, array).tolist() == [spans.LINE] + [spans.WORD] * 6
    assert spans.segment(text, array, 6).tolist() == [0, 6, 8]


# ---- end to end ----------------------------------------------------------------------------------


def _reference_segments(rr: Reranker, query: str, text: str, limits: DocumentLimits, span_tokens: int):
    """(ids, (start, end)) of each segment of ``text``'s kept part, by the plain rules."""
    query_ids = rr.encode([query])[0].tolist()
    doc = rr.encode([text])[0].tolist()
    special = rr.template.special_tokens
    window = ref.doc_window(special, rr.max_length, len(query_ids[: ref.query_limit(special, rr.max_length)]))
    keep_end = limits.truncation_side == "left"
    kept = ref.kept_part(doc, window, limits.max_tokens_per_doc, limits.max_windows_per_doc, keep_end)
    first = len(doc) - len(kept) if keep_end else 0
    chars = rr.tokenizer.encode_offsets([text])[0][first : first + len(kept)]
    cuts = ref.segment(text, chars, span_tokens, *SETS)
    ids = [kept[a:b] for a, b in zip(cuts, cuts[1:])]
    return list(zip(ids, ref.segment_chars(text, chars, cuts)))


def _score_alone(rr: Reranker, query: str, ids: list[int], limits: DocumentLimits) -> float:
    request = EncodedRequest(rr.encode([query])[0], np.array(ids, dtype=np.int32), np.array([0, len(ids)], dtype=np.int64), limits)
    return float(rr.score_encoded([request])[0].scores[0])


@pytest.mark.parametrize(
    "limits, span_tokens",
    [(DocumentLimits(), 12), (DocumentLimits(), 64), (DocumentLimits(40, None, "left"), 9), (DocumentLimits(4096, 1), 16)],
)
def test_each_span_is_its_text_scored_alone(rr, limits, span_tokens):
    docs = [*PROSE, *DOCUMENTS, LONG_DOCUMENT]
    resp = rr.rerank(
        QUERY,
        docs,
        max_tokens_per_doc=limits.max_tokens_per_doc,
        max_windows_per_doc=limits.max_windows_per_doc,
        truncation_side=limits.truncation_side,
        max_spans=10_000,  # more than any document has: every segment comes back
        span_tokens=span_tokens,
    )
    same_ids = other_ids = 0
    prose_other_ids = 0
    for result in resp.results:
        text = docs[result.index]
        segments = _reference_segments(rr, QUERY, text, limits, span_tokens)
        got = {(s.start, s.end): s.relevance_score for s in result.spans}
        assert sorted(got) == sorted(chars for _, chars in segments), text[:60]
        scores = [s.relevance_score for s in result.spans]
        assert scores == sorted(scores, reverse=True)
        for ids, (start, end) in segments:
            piece = text[start:end]
            if rr.encode([piece])[0].tolist() == ids:  # the substring tokenizes back to the segment
                alone = rr.rerank(
                    QUERY,
                    [piece],
                    max_tokens_per_doc=limits.max_tokens_per_doc,
                    max_windows_per_doc=limits.max_windows_per_doc,
                    truncation_side=limits.truncation_side,
                ).results[0]
                same_ids += 1
            else:  # cut inside a word, or a SentencePiece space token trimmed off: score its ids
                alone = None
                other_ids += 1
                prose_other_ids += text in PROSE
            want = alone.relevance_score if alone is not None else _score_alone(rr, QUERY, ids, limits)
            assert abs(got[(start, end)] - want) <= 1e-5, (piece, got[(start, end)], want)
    assert same_ids > 0 and (span_tokens < 12 or same_ids > 2 * other_ids), (same_ids, other_ids)  # the honest one is common
    if "bert" in str(rr.model_path) and span_tokens >= 12:
        assert prose_other_ids == 0  # WordPiece prose cut at sentences and words retokenizes exactly


def test_prose_spans_end_at_sentences(bert):
    resp = bert.rerank(QUERY, [PROSE[2]], max_spans=100, span_tokens=40)
    for s in resp.results[0].spans:
        piece = PROSE[2][s.start : s.end]
        assert piece.startswith("Sentence") and piece.endswith("."), piece
        assert len(bert.encode([piece])[0]) <= 40


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: repr(t[:12]))
def test_hostile_text_gives_valid_spans(rr, text):
    resp = rr.rerank(QUERY, [text, "plain words."], max_spans=5, span_tokens=16)
    result = next(r for r in resp.results if r.index == 0)
    segments = _reference_segments(rr, QUERY, text, DocumentLimits(), 16)
    assert len(result.spans) == min(5, len(segments))
    assert not segments or result.spans  # a document with tokens has spans
    ranges = {chars for _, chars in segments}
    for s in result.spans:
        assert (s.start, s.end) in ranges and 0 <= s.start <= s.end <= len(text)
        assert isinstance(s.start, int) and isinstance(s.end, int) and isinstance(s.relevance_score, float)


def test_dict_documents_span_their_rendering(bert):
    resp = bert.rerank("returning an item", SUPPORT_EMAILS, top_n=2, rank_fields=["Title", "Content"], max_spans=3, span_tokens=10)
    for result in resp.results:
        email = SUPPORT_EMAILS[result.index]
        rendering = f"Title: {email['Title']}\nContent: {email['Content']}"
        segments = _reference_segments(bert, "returning an item", rendering, DocumentLimits(), 10)
        assert 0 < len(result.spans) <= 3
        assert {(s.start, s.end) for s in result.spans} <= {chars for _, chars in segments}


def test_scores_order_and_units_do_not_change(rr):
    docs = [*PROSE, *DOCUMENTS, LONG_DOCUMENT]
    for top_n in (None, 3):
        plain = rr.rerank(QUERY, docs, top_n=top_n, max_tokens_per_doc=300)
        with_spans = rr.rerank(QUERY, docs, top_n=top_n, max_tokens_per_doc=300, max_spans=2)
        assert [(r.index, r.relevance_score) for r in with_spans.results] == [(r.index, r.relevance_score) for r in plain.results]
        assert with_spans.meta == plain.meta
        assert all("spans" not in r for r in plain.to_dict()["results"])
        assert all(r.spans is None for r in plain.results)
        assert all(len(r["spans"]) <= 2 and list(r) == ["index", "relevance_score", "spans"] for r in with_spans.to_dict()["results"])


def test_spans_cost_the_returned_documents_only(bert, monkeypatch):
    docs = [*PROSE, *DOCUMENTS, LONG_DOCUMENT]
    passes, offsets = [], []
    score, char_offsets = bert.score_encoded, bert.char_offsets
    monkeypatch.setattr(bert, "score_encoded", lambda requests, **kw: passes.append(list(requests)) or score(requests, **kw))
    monkeypatch.setattr(bert, "char_offsets", lambda texts: offsets.append(list(texts)) or char_offsets(texts))

    bert.rerank(QUERY, docs, top_n=3)
    assert len(passes) == 1 and offsets == []  # without max_spans nothing more runs, not even offsets
    passes.clear()
    resp = bert.rerank(QUERY, docs, top_n=3, max_spans=2, span_tokens=16)
    assert len(passes) == 2 and offsets == [[docs[r.index] for r in resp.results]]
    (segments,) = passes[1]
    want = sum(len(_reference_segments(bert, QUERY, docs[r.index], DocumentLimits(), 16)) for r in resp.results)
    assert segments.n_docs == want
    assert len(segments.doc_ids) == sum(len(bert.encode([docs[r.index]])[0]) for r in resp.results)


def test_rerank_many_and_arerank(bert):
    docs = [*PROSE, *DOCUMENTS]
    many = bert.rerank_many(
        [(QUERY, docs), ("quantum", docs), ("tokyo", docs)], top_n=[2, 3, None], max_spans=[1, 0, 2], span_tokens=[8, 8, 32]
    )
    assert all(len(r.spans) <= 1 for r in many[0].results) and len(many[0].results) == 2
    assert all(r.spans is None for r in many[1].results)
    assert all(r.spans is not None and len(r.spans) <= 2 for r in many[2].results)
    assert many[0].results[0].spans == bert.rerank(QUERY, docs, top_n=2, max_spans=1, span_tokens=8).results[0].spans
    assert bert.rerank_many([(QUERY, []), (QUERY, ["One. Two."])], max_spans=2)[0].results == []  # no documents, no spans
    got = asyncio.run(bert.arerank(QUERY, docs, top_n=1, max_spans=2, span_tokens=8))
    assert [s.start for s in got.results[0].spans] == [
        s.start for s in bert.rerank(QUERY, docs, top_n=1, max_spans=2, span_tokens=8).results[0].spans
    ]


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        (dict(max_spans=-1), ValueError, "max_spans"),
        (dict(max_spans=1.0), TypeError, "max_spans"),
        (dict(max_spans=True), TypeError, "max_spans"),
        (dict(max_spans="2"), TypeError, "max_spans"),
        (dict(max_spans=None), TypeError, "max_spans"),
        (dict(max_spans=2, span_tokens=0), ValueError, "span_tokens"),
        (dict(max_spans=2, span_tokens=None), TypeError, "span_tokens"),
        (dict(max_spans=2, span_tokens=8.0), TypeError, "span_tokens"),
        (dict(span_tokens=-5), ValueError, "span_tokens"),  # checked even without spans
    ],
)
def test_bad_span_options_name_the_argument(bert, kwargs, error, name):
    with pytest.raises(error, match=name):
        bert.rerank(QUERY, PROSE, **kwargs)
    with pytest.raises(error, match=name):
        bert.rerank_many([(QUERY, PROSE)], **kwargs)
    assert bert.rerank(QUERY, PROSE, max_spans=1).results[0].spans  # still works


def test_per_request_span_options_need_one_per_request(bert):
    with pytest.raises(ValueError, match="max_spans"):
        bert.rerank_many([(QUERY, PROSE), (QUERY, PROSE)], max_spans=[1, 2, 3])


def test_stub_engine_offsets_match_its_tokens():
    stub = StubEngine()
    texts = ["a b  c", "", "one", " lead", "trail "]
    chars, offsets = stub.char_offsets(texts)
    assert offsets.tolist() == stub.encode(texts)[1].tolist()
    for text, (a, b) in zip(texts, zip(offsets[:-1], offsets[1:])):
        assert [text[s:e] for s, e in chars[a:b].tolist()] == (text.split(" ") if text else [])
