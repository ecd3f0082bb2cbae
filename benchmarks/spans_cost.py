"""What relevant spans cost: rerank(..., max_spans=3) against the same call without spans, on 100
real documents (Debian FAQ answers; man page DESCRIPTION sections where the FAQ is not there), for
top_n=3 and for every document, all in one run; plus one worked example.

    apt-get download debian-faq && dpkg-deb -x debian-faq_*.deb faq
    flock -x /work/cpu.lock python benchmarks/spans_cost.py --model .cache/models/minilm-l6-test \\
        --faq faq/usr/share/doc/debian/FAQ/debian-faq.en.txt.gz

Calls with and without spans alternate, so drift on a shared machine falls on both; the ratio of
their medians is reported. "spans alone" times the spans' own work (segmenting the returned documents,
scoring their segments) by itself. The test model's head is untrained: the example (a question
and its own answer) shows the mechanics (offsets, segments, their scores), not which span a
trained model would choose.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np

from fastrerank import Reranker, spans

FAQ = Path("/usr/share/doc/debian/FAQ/debian-faq.en.txt.gz")
_QUESTION = re.compile(r"^\d+(\.\d+)+\.\s\S")  # "3.1.2. Will there be ...", at the start of a line


def faq_answers(path: Path) -> list[tuple[str, str]]:
    """(question, answer) of every FAQ entry; an answer's hard-wrapped lines joined, its
    paragraphs kept apart by a blank line."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    out, i = [], 0
    while i < len(lines):
        if not _QUESTION.match(lines[i]):
            i += 1
            continue
        question = [lines[i]]
        i += 1
        while i < len(lines) and lines[i] and not lines[i][0].isspace():
            question.append(lines[i])
            i += 1
        body = []
        while i < len(lines) and (not lines[i].strip() or lines[i][0].isspace()):
            body.append(lines[i])
            i += 1
        paragraphs = [
            " ".join(line.strip() for line in p.splitlines() if line.strip()) for p in re.split(r"\n\s*\n", "\n".join(body)) if p.strip()
        ]
        if paragraphs:
            out.append((re.sub(r"^\S+\s", "", " ".join(question)), "\n\n".join(paragraphs)))
    return out


def man_descriptions(n: int) -> list[tuple[str, str]]:
    """(NAME line's description, DESCRIPTION section) of up to ``n`` man pages of section 1."""
    out = []
    for page in sorted(Path("/usr/share/man/man1").glob("*.1.gz")):
        text = subprocess.run(["man", "-P", "cat", str(page)], capture_output=True, text=True, env={"MANWIDTH": "100"}).stdout
        text = re.sub(".\b", "", text)
        name = re.search(r"^NAME\n\s+\S.*? - (.+)$", text, re.M)
        description = re.search(r"^DESCRIPTION\n(.+?)(?=^\S)", text, re.M | re.S)
        if name and description and len(description.group(1).split()) > 30:
            paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", description.group(1)) if p.strip()]
            out.append((name.group(1), "\n\n".join(paragraphs)))
        if len(out) == n:
            break
    return out


def _seconds(call) -> float:
    t0 = time.perf_counter()
    call()
    return time.perf_counter() - t0


def measure(rr: Reranker, query: str, docs: list[str], top_n: int | None, span_tokens: int, repeats: int) -> dict:
    """Median seconds of the call without and with max_spans=3 and of the spans' own work alone
    (segmenting the returned documents and scoring the segments), in turns; their ratios to the
    call without spans, and how much the second pass read."""
    request = rr.encode_request(query, docs)
    returned = [r.index for r in rr.rerank(query, docs, top_n=top_n).results]

    def spans_alone() -> None:
        segments = spans.segment_documents(rr, request, returned, docs, span_tokens)
        spans.best_spans(segments, rr.score_encoded([segments.request])[0].scores, 3)

    rr.rerank(query, docs, top_n=top_n, max_spans=3, span_tokens=span_tokens)  # warm: token cache, ORT
    plain, with_spans, alone = [], [], []
    for _ in range(repeats):
        plain.append(_seconds(lambda: rr.rerank(query, docs, top_n=top_n)))
        with_spans.append(_seconds(lambda: rr.rerank(query, docs, top_n=top_n, max_spans=3, span_tokens=span_tokens)))
        alone.append(_seconds(spans_alone))
    segment_seconds = min(_seconds(lambda: spans.segment_documents(rr, request, returned, docs, span_tokens)) for _ in range(3))
    segments = spans.segment_documents(rr, request, returned, docs, span_tokens)
    base = statistics.median(plain)
    return {
        "top_n": top_n,
        "span_tokens": span_tokens,
        "seconds_without": round(base, 4),
        "seconds_with": round(statistics.median(with_spans), 4),
        "ratio_with_to_without": round(statistics.median(with_spans) / base, 3),
        "seconds_spans_alone": round(statistics.median(alone), 4),
        "ratio_spans_alone_to_without": round(statistics.median(alone) / base, 4),
        "returned_documents": len(returned),
        "segments": segments.request.n_docs,
        "mean_segment_tokens": round(float(np.diff(segments.request.doc_offsets).mean()), 1) if segments.request.n_docs else 0,
        "first_pass_tokens": int(rr.plan(request).tokens.sum()),
        "second_pass_tokens": int(rr.plan(segments.request).tokens.sum()),
        "segmentation_seconds": round(segment_seconds, 4),
    }


def sentence_tokens(rr: Reranker, docs: list[str]) -> dict:
    """How many tokens the documents' sentences (the spans' SENTENCE cuts) have: what span_tokens is chosen against."""
    chars, offsets = rr.char_offsets(docs)
    lengths = []
    for j, text in enumerate(docs):
        tokens = chars[offsets[j] : offsets[j + 1]]
        ends = np.flatnonzero(spans.cut_strengths(text, tokens) == spans.SENTENCE) + 1
        lengths += np.diff([0, *ends.tolist(), len(tokens)]).tolist()
    a = np.array(lengths)
    return {"sentences": len(a), "mean": round(float(a.mean()), 1), "median": float(np.median(a)), "p90": float(np.percentile(a, 90))}


def example(rr: Reranker, query: str, text: str) -> str:
    """``text``'s three best spans for ``query``, printed with their text."""
    result = rr.rerank(query, [text], max_spans=3).results[0]
    lines = [f"query: {query}", f"document ({len(text)} characters, score {result.relevance_score:.4f}):", text, "spans:"]
    for s in result.spans or []:
        lines.append(f"  [{s.start}, {s.end}) {s.relevance_score:.4f}  {text[s.start : s.end]!r}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--faq", type=Path, default=FAQ, help="debian-faq.en.txt(.gz); man pages when it is not there")
    parser.add_argument("--docs", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--span-tokens", type=int, nargs="+", default=[64])
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()

    pairs = faq_answers(args.faq) if args.faq.is_file() else man_descriptions(args.docs)
    source = "debian-faq" if args.faq.is_file() else "man1 DESCRIPTION"
    pairs = pairs[: args.docs]
    docs = [answer for _, answer in pairs]
    query = pairs[len(pairs) // 2][0]
    rr = Reranker(args.model)
    rows = []
    for t in args.span_tokens:
        for top_n in (3, None):
            rows.append(measure(rr, query, docs, top_n, t, args.repeats))
            print(json.dumps(rows[-1]), flush=True)  # each row as soon as it is measured
    report = {"source": source, "documents": len(docs), "query": query, "model": str(args.model), "threads": rr.threads}
    report |= {"query_tokens": len(rr.encode([query])[0]), "sentence_tokens": sentence_tokens(rr, docs), "rows": rows}
    print(json.dumps(report, indent=1))
    print()
    question, answer = next((q, a) for q, a in pairs if 100 <= len(a.split()) <= 160)  # an answer of a few paragraphs
    print(example(rr, question, answer))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
