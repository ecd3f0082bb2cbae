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


def query_limit(t: Template, max_length: int) -> int:
    return (max_length - t.special) // 2


def pack(
    queries: list[list[int]],
    docs: list[list[int]],
    doc_query: list[int] | None,
    t: Template,
    max_length: int,
    max_tokens_per_doc: int,
    max_batch_tokens: int,
    pad_id: int,
    batch_overhead: int = -1,
) -> tuple[list[RefBatch], list[int]]:
    """Rows: truncate, window, sort longest first, cut by budget, pad to each batch's longest."""
    doc_query = doc_query if doc_query is not None else [0] * len(docs)
    kept_queries = [q[: query_limit(t, max_length)] for q in queries]
    rows = []  # (length, order, doc, ids, types)
    windows = []
    for d, doc in enumerate(docs):
        q = kept_queries[doc_query[d]]
        window = max_length - t.special - len(q)
        kept = doc[:max_tokens_per_doc]
        parts = [kept[i : i + window] for i in range(0, len(kept), window)] or [[]]
        windows.append(len(parts))
        for part in parts:
            ids = t.prefix + q + t.middle + part + t.suffix
            types = (
                t.prefix_types
                + [t.query_type] * len(q)
                + t.middle_types
                + [t.doc_type] * len(part)
                + t.suffix_types
            )
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
