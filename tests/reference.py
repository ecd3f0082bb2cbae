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
