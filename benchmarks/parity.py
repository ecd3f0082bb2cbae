"""Parity of fastrerank (fp32) with the reference implementation, as a table.

    python benchmarks/parity.py

Tiny random BERT (1 and 2 logits) and XLM-R against transformers on torch (windows scored one
by one), and the real-size MiniLM-L6 test model against sentence-transformers CrossEncoder.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "models")]

import minilm_test_model  # noqa: E402
import tiny_models  # noqa: E402

from fastrerank import Reranker  # noqa: E402

import texts  # noqa: E402
from hf_reference import Reference  # noqa: E402


def scores_by_index(resp, n):
    out = np.empty(n)
    for r in resp.results:
        out[r.index] = r.relevance_score
    return out


def order_agrees(ours, ref, tie=1e-5):
    mine = np.argsort(-ours, kind="stable")
    return bool(np.all(ref[mine][:-1] >= ref[mine][1:] - tie))


def main() -> None:
    rows = []
    docs = texts.DOCUMENTS + [texts.LONG_DOCUMENT]
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in tiny_models.build_all(Path(tmp)).items():
            rr, ref = Reranker(path), Reference(path)
            diffs, same = [], True
            for q in texts.QUERIES:
                got = scores_by_index(rr.rerank(q, docs), len(docs))
                want = ref.scores(q, docs, rr.max_length)
                diffs.append(np.abs(got - want).max())
                same &= order_agrees(got, want)
            rows.append((f"tiny {name}", "transformers (torch)", len(docs) * len(texts.QUERIES), max(diffs), same))

    from sentence_transformers import CrossEncoder

    path = minilm_test_model.build()
    ce, rr = CrossEncoder(str(path), device="cpu"), Reranker(path)
    diffs, same, n = [], True, 0
    for q in texts.QUERIES:
        want = ce.predict([(q, d) for d in texts.DOCUMENTS], batch_size=8)
        got = scores_by_index(rr.rerank(q, texts.DOCUMENTS), len(texts.DOCUMENTS))
        diffs.append(np.abs(got - want).max())
        same &= order_agrees(got, want)
        n += len(texts.DOCUMENTS)
    ref = Reference(path)
    long_diff = abs(
        rr.rerank(texts.QUERIES[0], [texts.LONG_DOCUMENT]).results[0].relevance_score
        - ref.score(texts.QUERIES[0], texts.LONG_DOCUMENT, rr.max_length)
    )
    rows.append(("MiniLM-L6 (real size)", "sentence-transformers CrossEncoder", n, max(diffs), same))
    rows.append(("MiniLM-L6, long document", "transformers, windows one by one", 1, long_diff, True))

    print("| model | reference | pairs | max abs diff | same order |")
    print("| --- | --- | --- | --- | --- |")
    for model, reference, pairs, diff, same in rows:
        print(f"| {model} | {reference} | {pairs} | {diff:.2e} | {'yes' if same else 'NO'} |")


if __name__ == "__main__":
    main()
