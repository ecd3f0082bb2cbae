"""Relevant spans (``max_spans``): which parts of a returned document carry its relevance.

A document's scored part (its kept tokens, as the engine plans them) is cut into segments. Each
place between two tokens is a cut of some strength, read from the text around it and the
tokens' character offsets:

- ``SENTENCE``: a sentence ends there (one of TERMINATORS and any CLOSERS after it, then
  whitespace or the end of the text; one of CJK_TERMINATORS and its closers, then anything
  but a closer), or a blank line starts at a character after it;
- ``LINE``: a line break is after it;
- ``WORD``: whitespace is after it;
- ``TOKEN``: none of these (inside a word);
- ``NO_CUT``: the tokens on either side share characters (their offsets overlap): a segment
  never splits a character, so never a token.

A character is after a place if it lies between the two tokens or is the first of the token
after (BERT tokens hold no whitespace; SentencePiece tokens start with it, so a segment starts
with its first word's space token and retokenizes as it was). Sentences, cut at every SENTENCE
place, are merged while a segment keeps at most
``span_tokens`` tokens; a longer sentence is split at the strongest place in the last half of
its next ``span_tokens`` tokens (the latest of equals), else anywhere in them, else at the
first place after them (only a run of tokens with no place between them is longer than
``span_tokens``). Segments cover the scored part in order, without overlap.

Every segment becomes a document of its own, its ids a slice of the document's, scored against
the query in one more pass through the engine's batches: :func:`segment_documents` builds that
request, :func:`best_spans` reads its scores.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fastrerank import _core
from fastrerank.engine import EncodedRequest, Engine
from fastrerank.types import Span

__all__ = [
    "CJK_TERMINATORS",
    "CLOSERS",
    "LINE",
    "NO_CUT",
    "SENTENCE",
    "TERMINATORS",
    "TOKEN",
    "WHITESPACE",
    "WORD",
    "Segments",
    "best_spans",
    "cut_strengths",
    "segment",
    "segment_documents",
]

SENTENCE, LINE, WORD, TOKEN, NO_CUT = 3, 2, 1, 0, -1

TERMINATORS = ".!?\u2026\u203c\u2047\u2048\u2049\u061f\u06d4\u0964\u0965"  # . ! ? … ‼ ⁇ ⁈ ⁉ ؟ ۔ । ॥
CJK_TERMINATORS = "\u3002\uff01\uff1f\uff61"  # 。！？｡: no space follows them
CLOSERS = "\"')]}\u2019\u201d\u00bb\u300d\u300f\uff09\u3011\u3015\u300b\u3009"  # " ' ) ] } ’ ” » 」 』 ） 】 〕 》 〉
# The characters str.isspace() is true of (tests check the list against it).
WHITESPACE = np.array(
    [*range(0x09, 0x0E), *range(0x1C, 0x21), 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000],
    dtype=np.uint32,
)

_IS_SPACE = np.zeros(0x3002, dtype=np.bool_)  # by code point, past the last whitespace (U+3000) all false
_IS_SPACE[WHITESPACE] = True
_END = f"[{re.escape(CLOSERS)}]*"
_SENTENCE_END = re.compile(f"[{re.escape(TERMINATORS)}]{_END}(?=\\s|\\Z)|[{re.escape(CJK_TERMINATORS)}]{_END}(?![{re.escape(CLOSERS)}])")
_BLANK_LINE = re.compile(r"\n(?=[^\S\n]*\n)")  # every line break that starts a blank line
_ENDINGS = frozenset(TERMINATORS + CJK_TERMINATORS + CLOSERS)


def cut_strengths(text: str, chars: np.ndarray) -> np.ndarray:
    """How good a cut each place between two consecutive tokens of ``text`` is: int8 [k - 1]
    for the k tokens at ``chars`` (int64 [k, 2], (start, end) characters, in order); place i
    is between tokens i and i + 1."""
    if len(chars) < 2:
        return np.zeros(0, dtype=np.int8)
    starts, ends = chars[:, 0], chars[:, 1]
    lo = np.maximum.accumulate(ends)[:-1]  # everything before the place ends here
    hi = starts[1:]  # the token after starts here
    after = np.minimum.accumulate(starts[::-1])[::-1][1:]  # everything after starts here or later
    # The rules look at the tokens' characters, one more after them, a sentence end's
    # terminator before its closers and a blank line's whitespace after its line break.
    a = int(starts.min())
    while a > 0 and text[a - 1] in _ENDINGS:
        a -= 1
    b = min(int(ends.max()) + 1, len(text))
    while b < len(text) and text[b - 1].isspace():
        b += 1
    window = text[a:b]
    # characters after the place: window positions [lo, hi], clipped to the window
    first = np.clip(lo - a, 0, len(window))
    last = np.clip(hi - a + 1, first, len(window))
    code = np.frombuffer(window.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)

    def after_place(mask: np.ndarray) -> np.ndarray:
        counts = np.zeros(len(mask) + 1, dtype=np.int64)
        np.cumsum(mask, out=counts[1:])
        return counts[last] > counts[first]

    strength = np.full(len(lo), TOKEN, dtype=np.int8)
    strength[after_place(_IS_SPACE[np.minimum(code, len(_IS_SPACE) - 1)])] = WORD
    strength[after_place(code == 0x0A)] = LINE
    blank = np.zeros(len(window), dtype=np.bool_)
    blank[[m.start() for m in _BLANK_LINE.finditer(window)]] = True
    ends_at = np.array([m.end() + a for m in _SENTENCE_END.finditer(window)], dtype=np.int64)
    sentence = np.searchsorted(ends_at, hi, "right") > np.searchsorted(ends_at, lo, "left")  # an end in [lo, hi]
    strength[after_place(blank) | sentence] = SENTENCE
    strength[lo > after] = NO_CUT
    return strength


def segment(text: str, chars: np.ndarray, span_tokens: int) -> np.ndarray:
    """The segments of the tokens at ``chars`` (int64 [k, 2], see :func:`cut_strengths`) of
    ``text``: int64 cut points [0, ..., k], segment j is tokens ``cuts[j]:cuts[j + 1]``
    (none for no tokens: [0])."""
    k = len(chars)
    if k == 0:
        return np.zeros(1, dtype=np.int64)
    strength = cut_strengths(text, chars)
    cuts = [0]
    start = begin = 0  # the open segment's first token; the sentence's
    for end in [*(np.flatnonzero(strength == SENTENCE) + 1).tolist(), k]:
        if end - start > span_tokens:
            if begin > start:  # the sentence does not fit: it starts a segment
                cuts.append(begin)
                start = begin
            while end - start > span_tokens:
                start = _split(strength, start, end, span_tokens)
                cuts.append(start)
        begin = end
    if cuts[-1] != k:
        cuts.append(k)
    return np.array(cuts, dtype=np.int64)


def _split(strength: np.ndarray, start: int, end: int, span_tokens: int) -> int:
    """Where a sentence's tokens ``start:end`` (more than ``span_tokens``) are cut first."""
    places = strength[start : start + span_tokens]  # cutting at place i starts token i + 1
    for skip in (span_tokens // 2, 0):
        part = places[skip:]
        best = int(part.max()) if len(part) else NO_CUT
        if best > NO_CUT:
            return start + skip + len(part) - int(np.argmax(part[::-1] == best))
    later = np.flatnonzero(strength[start + span_tokens : end - 1] > NO_CUT)
    return start + span_tokens + int(later[0]) + 1 if len(later) else end


@dataclass(frozen=True)
class Segments:
    """The segments of some documents of one request, as a request of their own: document j's
    segments are the documents ``bounds[j]:bounds[j + 1]`` of ``request``, at characters
    ``chars`` (int64 [segments, 2], [start, end): its tokens' characters, without whitespace
    at either edge) of its text."""

    request: EncodedRequest
    bounds: np.ndarray  # int64 [documents + 1]
    chars: np.ndarray  # int64 [segments, 2]


def segment_documents(engine: Engine, request: EncodedRequest, docs: Sequence[int], texts: Sequence[str], span_tokens: int) -> Segments:
    """The segments of documents ``docs`` (input indices) of ``request``, whose texts are
    ``texts`` (all of the request's): each document's kept part, as ``engine`` plans it, cut
    by :func:`segment`; the request scores them with ``request``'s query and limits (a segment
    is never cut by them: it is part of what they kept)."""
    sub = request.subset(np.asarray(docs, dtype=np.int64))
    plan = engine.plan(sub)
    doc_texts = [texts[i] for i in docs]
    token_chars, char_offsets = engine.char_offsets(doc_texts)
    if not np.array_equal(np.diff(char_offsets), np.diff(sub.doc_offsets)):
        raise RuntimeError("the engine's character offsets do not match its token ids (a tokenizer or token cache fault)")
    pieces, cut_points, char_ranges = [], [np.zeros(1, dtype=np.int64)], []
    bounds = np.zeros(len(doc_texts) + 1, dtype=np.int64)
    base = 0
    for j, text in enumerate(doc_texts):
        first, kept = int(plan.first[j]), int(plan.kept[j])
        at = int(sub.doc_offsets[j]) + first
        chars = token_chars[int(char_offsets[j]) + first :][:kept]
        cuts = segment(text, chars, span_tokens)
        pieces.append(sub.doc_ids[at : at + kept])
        cut_points.append(cuts[1:] + base)
        if len(cuts) > 1:
            ranges = np.stack([np.minimum.reduceat(chars[:, 0], cuts[:-1]), np.maximum.reduceat(chars[:, 1], cuts[:-1])], 1)
            char_ranges.append(_trimmed(text, ranges))
        bounds[j + 1] = bounds[j] + len(cuts) - 1
        base += kept
    doc_ids = np.concatenate(pieces) if pieces else sub.doc_ids[:0]
    segments = EncodedRequest(sub.query_ids, doc_ids.astype(np.int32, copy=False), np.concatenate(cut_points), sub.limits)
    chars_all = np.concatenate(char_ranges) if char_ranges else np.zeros((0, 2), dtype=np.int64)
    return Segments(segments, bounds, chars_all)


def _trimmed(text: str, ranges: np.ndarray) -> np.ndarray:
    """Character ranges without the whitespace at their edges (SentencePiece tokens hold it)."""
    out = []
    for start, end in ranges.tolist():
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        out.append((start, end))
    return np.array(out, dtype=np.int64)


def best_spans(segments: Segments, scores: np.ndarray, max_spans: int) -> list[list[Span]]:
    """Each document's ``max_spans`` best segments as spans, highest first (ties: the earlier),
    from ``scores`` (float32, one per segment: the scores of ``segments.request``)."""
    out = []
    for a, b in zip(segments.bounds[:-1].tolist(), segments.bounds[1:].tolist()):
        picked, top = _core.top_n(np.ascontiguousarray(scores[a:b], dtype=np.float32), max_spans)
        where = segments.chars[a + picked].tolist()
        out.append([Span(start, end, score) for (start, end), score in zip(where, top.tolist())])
    return out
