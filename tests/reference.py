"""Plain-Python statements of the core's rules, written for clarity, not speed.

The property tests compare fastrerank._core with these on random inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    prefix: list[int]
    prefix_types: list[int]
    query_type: int
    middle: list[int]
    middle_types: list[int]
    doc_type: int
    suffix: list[int]
    suffix_types: list[int]

    @property
    def special(self) -> int:
        return len(self.prefix) + len(self.middle) + len(self.suffix)


BERT = Template([101], [0], 0, [102], [0], 1, [102], [1])
XLMR = Template([0], [0], 0, [2, 2], [0, 0], 0, [2], [0])


@dataclass
class RefBatch:
    input_ids: list[list[int]]
    attention_mask: list[list[int]]
    token_type_ids: list[list[int]]
    row_docs: list[int]


def query_limit(special: int, max_length: int) -> int:
    """The most tokens a query keeps: half of what the window leaves beside the special tokens."""
    return (max_length - special) // 2


def doc_window(special: int, max_length: int, query_tokens: int) -> int:
    """Document tokens per row beside a query that kept ``query_tokens`` tokens."""
    return max_length - special - query_tokens


def kept_part(doc: list[int], window: int, max_tokens: int, max_windows: int | None, keep_end: bool) -> list[int]:
    """What a document keeps: its first (last, with keep_end) max_tokens tokens, and no more
    than max_windows windows of them."""
    n = min(len(doc), max_tokens)
    if max_windows is not None:
        n = min(n, max_windows * window)
    return doc[len(doc) - n :] if keep_end else doc[:n]


def per_query(value, n: int) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value] * n


def pack(
    queries: list[list[int]],
    docs: list[list[int]],
    doc_query: list[int] | None,
    t: Template,
    max_length: int,
    max_tokens_per_doc: int | list[int],
    max_batch_tokens: int,
    pad_id: int,
    batch_overhead: int = -1,
    max_windows_per_doc: int | None | list[int | None] = None,
    keep_end: bool | list[bool] = False,
) -> tuple[list[RefBatch], list[int]]:
    """Rows: truncate, window, sort longest first, cut by budget, pad to each batch's longest.
    The document limits are one value, or a list with one per query."""
    doc_query = doc_query if doc_query is not None else [0] * len(docs)
    kept_queries = [q[: query_limit(t.special, max_length)] for q in queries]
    max_tokens = per_query(max_tokens_per_doc, len(queries))
    max_windows = per_query(max_windows_per_doc, len(queries))
    ends = per_query(keep_end, len(queries))
    rows = []  # (length, order, doc, ids, types)
    windows = []
    for d, doc in enumerate(docs):
        qi = doc_query[d]
        q = kept_queries[qi]
        window = doc_window(t.special, max_length, len(q))
        kept = kept_part(doc, window, max_tokens[qi], max_windows[qi], ends[qi])
        parts = [kept[i : i + window] for i in range(0, len(kept), window)] or [[]]
        windows.append(len(parts))
        for part in parts:
            ids = t.prefix + q + t.middle + part + t.suffix
            types = t.prefix_types + [t.query_type] * len(q) + t.middle_types + [t.doc_type] * len(part) + t.suffix_types
            rows.append((len(ids), len(rows), d, ids, types))
    rows.sort(key=lambda r: (-r[0], r[1]))

    batches = []
    for start, take, length in cut(len(rows), [r[0] for r in rows], max_batch_tokens, batch_overhead):
        chunk = rows[start : start + take]
        batches.append(
            RefBatch(
                [r[3] + [pad_id] * (length - r[0]) for r in chunk],
                [[1] * r[0] + [0] * (length - r[0]) for r in chunk],
                [r[4] + [0] * (length - r[0]) for r in chunk],
                [r[2] for r in chunk],
            )
        )
    return batches, windows


MAX_BATCH_ROWS = 4096


def cut(n: int, lengths: list[int], budget: int, overhead: int) -> list[tuple[int, int, int]]:
    """(start, rows, length) of each batch over rows sorted longest first."""
    if overhead < 0:  # greedy: as many rows as fit
        out, i = [], 0
        while i < n:
            take = n - i if lengths[i] == 0 else max(1, budget // lengths[i])
            take = min(take, n - i)
            out.append((i, take, lengths[i]))
            i += take
        return out
    # least total cost, sum of (overhead + rows x longest), by brute-force dynamic programming
    best = [0] + [None] * n
    back = [0] * (n + 1)
    for i in range(1, n + 1):
        for j in range(max(0, i - MAX_BATCH_ROWS), i):
            rows = i - j
            if rows > 1 and rows * lengths[j] > budget:
                continue
            c = best[j] + overhead + rows * lengths[j]
            if best[i] is None or c < best[i] or (c == best[i] and j < back[i]):
                best[i], back[i] = c, j
    out, i = [], n
    while i > 0:
        j = back[i]
        out.append((j, i - j, lengths[j]))
        i = j
    return out[::-1]


def normalise(row: list[float], how: str) -> float:
    if how == "auto":
        how = "sigmoid" if len(row) == 1 else "softmax"
    if how == "sigmoid":
        return 1.0 / (1.0 + math.exp(-row[-1])) if row[-1] > -700 else 0.0
    if how == "softmax":
        m = max(row)
        e = [math.exp(x - m) for x in row]
        return e[1] / sum(e)
    return row[-1]


def scatter_max(logit_rows: list[list[float]], row_docs: list[int], n_docs: int, how: str) -> list[float]:
    best: list[float | None] = [None] * n_docs
    for row, d in zip(logit_rows, row_docs):
        s = normalise(row, how)
        if best[d] is None or s > best[d]:
            best[d] = s
    assert all(b is not None for b in best)
    return best  # type: ignore[return-value]


def top_n(scores: list[float], n: int | None) -> list[int]:
    order = sorted(range(len(scores)), key=lambda i: (math.isnan(scores[i]), -scores[i] if not math.isnan(scores[i]) else 0, i))
    return order if n is None or n < 0 else order[:n]


# ---- relevant spans: how a document's kept tokens are cut into segments (fastrerank.spans) --------

SENTENCE, LINE, WORD, TOKEN, NO_CUT = 3, 2, 1, 0, -1


def sentence_ends_at(text: str, p: int, terminators: str, cjk_terminators: str, closers: str) -> bool:
    """A sentence ends between text[p - 1] and text[p]: a terminator, then closers up to p,
    then whitespace or the end (a CJK terminator: then anything but a closer, or the end)."""
    q = p
    while q > 0 and text[q - 1] in closers:
        q -= 1
    if q == 0:
        return False
    if text[q - 1] in terminators:
        return p == len(text) or text[p].isspace()
    if text[q - 1] in cjk_terminators:
        return p == len(text) or text[p] not in closers
    return False


def blank_line_at(text: str, j: int) -> bool:
    """text[j] is a line break followed, after other whitespace only, by another."""
    if text[j] != "\n":
        return False
    k = j + 1
    while k < len(text) and text[k] != "\n" and text[k].isspace():
        k += 1
    return k < len(text) and text[k] == "\n"


def cut_strengths(text: str, chars: list[tuple[int, int]], terminators: str, cjk_terminators: str, closers: str) -> list[int]:
    """How good a cut each place between tokens i and i + 1 is (see fastrerank.spans)."""
    out = []
    for i in range(len(chars) - 1):
        lo = max(end for _, end in chars[: i + 1])
        hi = chars[i + 1][0]
        if lo > min(start for start, _ in chars[i + 1 :]):
            out.append(NO_CUT)
            continue
        after = range(lo, min(hi + 1, len(text)))  # between the tokens, and the first of the one after
        if any(sentence_ends_at(text, p, terminators, cjk_terminators, closers) for p in range(lo, hi + 1)) or any(
            blank_line_at(text, j) for j in after
        ):
            out.append(SENTENCE)
        elif any(text[j] == "\n" for j in after):
            out.append(LINE)
        elif any(text[j].isspace() for j in after):
            out.append(WORD)
        else:
            out.append(TOKEN)
    return out


def split_at(strength: list[int], start: int, end: int, span_tokens: int) -> int:
    """Where a sentence's tokens start:end (more than span_tokens) are cut first: the strongest
    cut, then the latest, among the last half of the next span_tokens tokens, else among all of
    them, else the first cut after them, else end."""
    for lowest in (start + span_tokens // 2 + 1, start + 1):
        options = [(strength[c - 1], c) for c in range(lowest, start + span_tokens + 1) if strength[c - 1] != NO_CUT]
        if options:
            return max(options)[1]
    later = [c for c in range(start + span_tokens + 1, end) if strength[c - 1] != NO_CUT]
    return later[0] if later else end


def segment(text: str, chars: list[tuple[int, int]], span_tokens: int, terminators: str, cjk_terminators: str, closers: str) -> list[int]:
    """Cut points [0, ..., k] of the tokens at chars: sentences merged while a segment keeps at
    most span_tokens tokens, longer ones split by split_at."""
    k = len(chars)
    if k == 0:
        return [0]
    strength = cut_strengths(text, chars, terminators, cjk_terminators, closers)
    sentence_ends = [i + 1 for i, s in enumerate(strength) if s == SENTENCE] + [k]
    cuts = [0]
    start = begin = 0
    for end in sentence_ends:
        if end - start > span_tokens:
            if begin > start:
                cuts.append(begin)
                start = begin
            while end - start > span_tokens:
                start = split_at(strength, start, end, span_tokens)
                cuts.append(start)
        begin = end
    if cuts[-1] != k:
        cuts.append(k)
    return cuts


def segment_chars(text: str, chars: list[tuple[int, int]], cuts: list[int]) -> list[tuple[int, int]]:
    """Each segment's characters: from its first token's start to its last one's end, without
    the whitespace at either edge."""
    out = []
    for a, b in zip(cuts, cuts[1:]):
        start = min(s for s, _ in chars[a:b])
        end = max(e for _, e in chars[a:b])
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        out.append((start, end))
    return out
