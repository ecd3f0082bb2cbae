"""The benchmark workloads: short queries with candidate documents, from the license texts
Debian installs in /usr/share/common-licenses (real English prose, the same on every
Debian/Ubuntu machine). Queries are 4-10 consecutive words. Everything is deterministic for a
seed.

``mixed`` (:func:`make_workload`): documents cut at seeded random places, their lengths mixed
the way retrieval candidates are (in words; ~1.2 tokens per word for a WordPiece vocabulary):

    15%  3-15 words      titles, snippets
    45%  20-120 words    passages
    25%  120-300 words   long passages
    15%  400-900 words   pages beyond a 512-token window

``short`` (:func:`make_short_workload`): whole paragraphs of at least 8 words, drawn at random
(a median of ~55 MiniLM tokens): the passages a chunked index returns.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from fastrerank import probes

__all__ = ["LENGTH_MIX", "WORKLOADS", "Workload", "load_workloads", "make_short_workload", "make_workload", "paragraphs", "save_workloads"]

LENGTH_MIX = ((0.15, 3, 15), (0.45, 20, 120), (0.25, 120, 300), (0.15, 400, 900))
LICENSES = Path("/usr/share/common-licenses")
PARAGRAPH_MIN_WORDS = 8


@dataclass(frozen=True)
class Workload:
    """Queries, each with its own candidate documents."""

    queries: list[str]
    documents: list[list[str]]
    seed: int

    @property
    def pairs(self) -> int:
        return sum(len(d) for d in self.documents)


def save_workloads(workloads: dict[str, Workload], path: Path) -> None:
    """Writes workloads by name (for the benchmark's workers to read)."""
    path.write_text(json.dumps({name: asdict(w) for name, w in workloads.items()}), encoding="utf-8")


def load_workloads(path: Path) -> dict[str, Workload]:
    """The workloads ``save_workloads`` wrote."""
    return {name: Workload(**w) for name, w in json.loads(path.read_text(encoding="utf-8")).items()}


def _texts() -> list[str]:
    files = sorted(p for p in LICENSES.glob("*") if p.is_file()) if LICENSES.is_dir() else []
    return [p.read_text(encoding="utf-8", errors="replace") for p in files]


def _words() -> list[str]:
    words = [w for text in _texts() for w in text.split()]
    if len(words) < 5000:  # not a Debian machine: fall back to the packaged probe text
        words = " ".join(probes.DOCUMENTS * 200).split()
    return words


def paragraphs() -> list[str]:
    """Every paragraph of the license texts (blank-line separated, whitespace collapsed) with
    at least PARAGRAPH_MIN_WORDS words; the probe documents where there are none."""
    found = [" ".join(p.split()) for text in _texts() for p in re.split(r"\n\s*\n", text)]
    found = list(dict.fromkeys(p for p in found if len(p.split()) >= PARAGRAPH_MIN_WORDS))  # licenses repeat paragraphs
    return found if len(found) >= 100 else [d for d in probes.DOCUMENTS if len(d.split()) >= PARAGRAPH_MIN_WORDS]


def _length(rng: random.Random) -> int:
    x = rng.random()
    for share, lo, hi in LENGTH_MIX:
        if x < share:
            return rng.randint(lo, hi)
        x -= share
    return rng.randint(LENGTH_MIX[-1][1], LENGTH_MIX[-1][2])


def make_workload(n_queries: int, docs_per_query: int, seed: int = 0) -> Workload:
    """``n_queries`` queries with ``docs_per_query`` documents each."""
    rng = random.Random(seed)
    words = _words()

    def cut(n: int) -> str:
        start = rng.randrange(0, len(words) - n)
        return " ".join(words[start : start + n])

    queries = [cut(rng.randint(4, 10)) for _ in range(n_queries)]
    documents = [[cut(_length(rng)) for _ in range(docs_per_query)] for _ in range(n_queries)]
    return Workload(queries, documents, seed)


def make_short_workload(n_queries: int, docs_per_query: int, seed: int = 0) -> Workload:
    """``n_queries`` queries with ``docs_per_query`` whole paragraphs each (drawn with
    replacement across queries, without within one where there are enough)."""
    rng = random.Random(seed)
    words = _words()
    pool = paragraphs()
    queries = []
    for _ in range(n_queries):
        n = rng.randint(4, 10)
        start = rng.randrange(0, len(words) - n)
        queries.append(" ".join(words[start : start + n]))
    documents = [
        rng.sample(pool, docs_per_query) if docs_per_query <= len(pool) else rng.choices(pool, k=docs_per_query) for _ in range(n_queries)
    ]
    return Workload(queries, documents, seed)


# name -> (maker, what it is), in report order
WORKLOADS = {
    "mixed": (make_workload, "license text cut at random places; lengths mixed from a few words to beyond the window"),
    "short": (make_short_workload, "whole license-text paragraphs of 8 words or more (median ~55 tokens)"),
}
