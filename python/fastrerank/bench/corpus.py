"""The benchmark workload: short queries and documents whose lengths mix the way retrieval
candidates do, from a few tokens to beyond a 512-token window.

Text comes from the license texts Debian installs in /usr/share/common-licenses (real English
prose, the same on every Debian/Ubuntu machine), cut at seeded random places. Document lengths
(in words; ~1.3 tokens per word for a WordPiece vocabulary):

    15%  3-15 words      titles, snippets
    45%  20-120 words    passages
    25%  120-300 words   long passages
    15%  400-900 words   pages beyond a 512-token window

Queries are 4-10 consecutive words. Everything is deterministic for a seed.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from fastrerank import probes

__all__ = ["LENGTH_MIX", "Workload", "make_workload"]

LENGTH_MIX = ((0.15, 3, 15), (0.45, 20, 120), (0.25, 120, 300), (0.15, 400, 900))
LICENSES = Path("/usr/share/common-licenses")


@dataclass(frozen=True)
class Workload:
    """Queries, each with its own candidate documents."""

    queries: list[str]
    documents: list[list[str]]
    seed: int

    @property
    def pairs(self) -> int:
        return sum(len(d) for d in self.documents)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)), encoding="utf-8")

    @staticmethod
    def load(path: Path) -> Workload:
        return Workload(**json.loads(path.read_text(encoding="utf-8")))


def _words() -> list[str]:
    files = sorted(p for p in LICENSES.glob("*") if p.is_file()) if LICENSES.is_dir() else []
    words = [w for p in files for w in p.read_text(encoding="utf-8", errors="replace").split()]
    if len(words) < 5000:  # not a Debian machine: fall back to the packaged probe text
        words = " ".join(probes.DOCUMENTS * 200).split()
    return words


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
