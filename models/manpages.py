"""Offline relevance data for a model that ranks: the man pages in /usr/share/man/man1 (query:
the one-line description of the NAME section; relevant passage: the page's DESCRIPTION
section) and, out of domain, the Debian FAQ (question titles and their answers).

    pages()            every usable man page, deduplicated, in name order
    split(pages)       the held-out pages (never trained on) and the training pages
    heldout_set(...)   held-out queries, each with 30 candidates: its page, hard negatives, random pages
    faq_set(...)       the Debian FAQ as queries with candidates (``apt-get download debian-faq``)
    Tfidf              the lexical baseline and the hard-negative miner

Everything is deterministic for a seed; nothing here needs torch.
"""

from __future__ import annotations

import gzip
import html
import math
import random
import re
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

MAN1 = Path("/usr/share/man/man1")
PASSAGE_WORDS = 180  # a candidate is the first this many words of a DESCRIPTION or an answer
MIN_DESCRIPTION_WORDS = 25
HELDOUT_PAGES = 300  # the pool the held-out queries' candidates come from
HELDOUT_QUERIES = 100
CANDIDATES = 30  # per query: the relevant passage, 19 TF-IDF neighbours, 10 random
HARD_NEGATIVES = 19


@dataclass(frozen=True)
class Page:
    """One relevance pair: a query and its relevant passage (a man page, or a FAQ entry)."""

    name: str
    query: str
    passage: str


# ---- roff to text ------------------------------------------------------------------------------

_ESCAPES = [
    (re.compile(r"\\f(\[[^\]]*\]|\(..|.)"), ""),  # font changes
    (re.compile(r"\\s[+-]?\d+"), ""),  # size changes
    (re.compile(r"\\\((em|en|hy)"), "-"),
    (re.compile(r"\\\((lq|rq|dq)"), '"'),
    (re.compile(r"\\\((oq|cq|aq)"), "'"),
    (re.compile(r"\\\(..|\\\[[^\]]*\]"), ""),  # other named glyphs
    (re.compile(r"\\[-]"), "-"),
    (re.compile(r"\\[&|^/,%:)]"), ""),
    (re.compile(r"\\e"), "\\\\"),
    (re.compile(r"\\ "), " "),
    (re.compile(r"\\\*(\(..|\[[^\]]*\]|.)"), ""),  # strings
    (re.compile(r"\\n(\(..|\[[^\]]*\]|.)"), ""),  # number registers
]


def roff_text(line: str) -> str:
    """One roff text line without its escapes."""
    for pattern, repl in _ESCAPES:
        line = pattern.sub(repl, line)
    return line.replace("\\", "")


def _sections(source: str) -> dict[str, list[str]]:
    """Section name -> its text lines (man and mdoc macros; request lines dropped, the text
    arguments of font macros kept)."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in source.splitlines():
        line = raw.rstrip()
        head = re.match(r"^\.(SH|Sh)\s+(.*)$", line)
        if head:
            current = sections.setdefault(head.group(2).strip().strip('"').upper(), [])
            continue
        if current is None or line.startswith(('.\\"', "'\\\"", '\\"')):
            continue
        if line.startswith((".", "'")):
            macro = re.match(r"^[.']\s*(\w+)\s*(.*)$", line)
            if not macro:
                continue
            name, rest = macro.groups()
            if name == "Nd":  # mdoc's NAME description
                current.append("- " + roff_text(rest.replace('"', "")))
            elif name in ("B", "I", "BI", "IB", "BR", "RB", "IR", "RI", "SM", "SB", "Nm", "Ar", "Fl", "Cm", "Dq", "Sq", "Pa", "Em"):
                current.append(roff_text(rest.replace('"', "")))
            continue
        current.append(roff_text(line))
    return sections


def parse_page(path: Path) -> Page | None:
    """The NAME description and DESCRIPTION text of one man page; None when either is missing."""
    try:
        source = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace") if path.suffix == ".gz" else path.read_text()
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    if source.lstrip().startswith(".so "):  # an alias of another page
        return None
    sections = _sections(source)
    name_text = " ".join(" ".join(sections.get("NAME", [])).split())
    described = re.split(r"\s+-+\s+|\s+\u2014\s+", name_text, maxsplit=1)
    if len(described) != 2:
        return None
    query = described[1].strip().rstrip(".")
    passage = " ".join(" ".join(sections.get("DESCRIPTION", [])).split())
    if len(query.split()) < 3 or len(passage.split()) < MIN_DESCRIPTION_WORDS:
        return None
    return Page(path.name.split(".")[0], query, " ".join(passage.split()[:PASSAGE_WORDS]))


def pages(directory: Path = MAN1) -> list[Page]:
    """Every usable page of ``directory``, one per distinct query and per distinct passage
    (aliases and pages generated from one template collapse), in file name order."""
    seen_queries: set[str] = set()
    seen_passages: set[str] = set()
    out = []
    for path in sorted(p for p in directory.iterdir() if p.is_file() and not p.is_symlink()):
        page = parse_page(path)
        if page is None:
            continue
        q, p = page.query.lower(), page.passage[:300].lower()
        if q in seen_queries or p in seen_passages:
            continue
        seen_queries.add(q)
        seen_passages.add(p)
        out.append(page)
    return out


def split(all_pages: list[Page], seed: int = 0) -> tuple[list[Page], list[Page]]:
    """(held-out, training) pages: HELDOUT_PAGES drawn with ``seed``; the rest train."""
    rng = random.Random(seed)
    order = list(range(len(all_pages)))
    rng.shuffle(order)
    held = set(order[:HELDOUT_PAGES])
    return [all_pages[i] for i in sorted(held)], [p for i, p in enumerate(all_pages) if i not in held]


# ---- TF-IDF ------------------------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """Lower-cased alphanumeric words."""
    return _WORD.findall(text.lower())


class Tfidf:
    """Sublinear TF-IDF over passages, cosine-normalised; scores by an inverted index."""

    def __init__(self, passages: list[str]) -> None:
        counts = [Counter(words(p)) for p in passages]
        df = Counter(w for c in counts for w in c)
        n = len(passages)
        self.idf = {w: math.log((1 + n) / (1 + d)) + 1 for w, d in df.items()}
        self.postings: dict[str, list[tuple[int, float]]] = {}
        for i, c in enumerate(counts):
            weights = {w: (1 + math.log(k)) * self.idf[w] for w, k in c.items()}
            norm = math.sqrt(sum(v * v for v in weights.values())) or 1.0
            for w, v in weights.items():
                self.postings.setdefault(w, []).append((i, v / norm))
        self.n = n

    def scores(self, query: str) -> list[float]:
        """Cosine similarity of ``query`` with every passage."""
        q = Counter(words(query))
        weights = {w: (1 + math.log(k)) * self.idf[w] for w, k in q.items() if w in self.idf}
        norm = math.sqrt(sum(v * v for v in weights.values())) or 1.0
        out = [0.0] * self.n
        for w, v in weights.items():
            for i, d in self.postings[w]:
                out[i] += v / norm * d
        return out

    def nearest(self, query: str, k: int, exclude: int) -> list[int]:
        """The ``k`` best passages for ``query``, without passage ``exclude``."""
        s = self.scores(query)
        order = sorted(range(self.n), key=lambda i: (-s[i], i))
        return [i for i in order if i != exclude][:k]


# ---- evaluation sets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """A query, its candidate passages and which one is relevant."""

    name: str
    text: str
    candidates: list[str]
    relevant: int


def candidate_set(pool: list[Page], queries: int, seed: int) -> list[Query]:
    """``queries`` pages of ``pool`` as queries, each with CANDIDATES candidates from ``pool``:
    its own passage, its HARD_NEGATIVES nearest by TF-IDF, the rest random; shuffled."""
    rng = random.Random(seed)
    tfidf = Tfidf([p.passage for p in pool])
    chosen = rng.sample(range(len(pool)), min(queries, len(pool)))
    out = []
    for i in chosen:
        hard = tfidf.nearest(pool[i].query, HARD_NEGATIVES, exclude=i)
        rest = [j for j in range(len(pool)) if j != i and j not in hard]
        picked = [i, *hard, *rng.sample(rest, CANDIDATES - 1 - len(hard))]
        rng.shuffle(picked)
        out.append(Query(pool[i].name, pool[i].query, [pool[j].passage for j in picked], picked.index(i)))
    return out


def heldout_set(all_pages: list[Page], seed: int = 0) -> list[Query]:
    """HELDOUT_QUERIES held-out man-page queries with their candidates (held-out pages only)."""
    held, _ = split(all_pages, seed)
    return candidate_set(held, HELDOUT_QUERIES, seed)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[tuple[str, str]] = []  # (kind, text): kind "h2" for a question title
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "h2":
            self._in_h2 = True
            self.parts.append(("h2", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self._in_h2 = False
            self.parts.append(("text", ""))

    def handle_data(self, data: str) -> None:
        if self.parts:
            kind, text = self.parts[-1]
            self.parts[-1] = (kind, text + data)


def faq_pages(directory: Path) -> list[Page]:
    """The Debian FAQ's questions (``N.M. Question?`` titles) and their answers, from the
    HTML pages of ``directory`` (.../usr/share/doc/debian/FAQ)."""
    out = []
    for path in sorted(directory.glob("*.en.html")):
        parser = _Text()
        parser.feed(html.unescape(path.read_text(encoding="utf-8", errors="replace")))
        parts = parser.parts
        for k, (kind, title) in enumerate(parts):
            if kind != "h2" or k + 1 >= len(parts):
                continue
            m = re.match(r"^\s*\d+(\.\d+)+\.\s+(.*\S)\s*$", " ".join(title.split()))
            answer = " ".join(parts[k + 1][1].split())
            if m and len(answer.split()) >= 20:
                out.append(Page(path.stem, m.group(2), " ".join(answer.split()[:PASSAGE_WORDS])))
    return out


def fetch_faq(cache: Path) -> Path:
    """The Debian FAQ's HTML directory, downloaded once with apt-get into ``cache``."""
    faq = cache / "root" / "usr" / "share" / "doc" / "debian" / "FAQ"
    if faq.is_dir():
        return faq
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        subprocess.run(["apt-get", "download", "debian-faq"], cwd=tmp, check=True, capture_output=True)
        deb = next(Path(tmp).glob("debian-faq_*.deb"))
        subprocess.run(["dpkg", "-x", str(deb), str(cache / "root")], check=True)
    return faq


def faq_set(directory: Path, seed: int = 0) -> list[Query]:
    """Every Debian FAQ question with CANDIDATES candidate answers from the FAQ."""
    entries = faq_pages(directory)
    return candidate_set(entries, len(entries), seed)
