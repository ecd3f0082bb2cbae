"""Real-looking text for tests: several languages and scripts, emoji, markup, long documents."""

from __future__ import annotations

import sys
from pathlib import Path

# Cohere's documentation examples (the capital-of-the-US documents; the support emails,
# structured and ranked on Title and Content), as the example script runs them
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
from cohere_examples import CAPITAL_DOCS, SUPPORT_EMAILS  # noqa: E402

__all__ = ["CAPITAL_DOCS", "DOCUMENTS", "LONG_DOCUMENT", "QUERIES", "SUPPORT_EMAILS", "debian_documents", "short_documents"]

QUERIES = [
    "What is the capital of the United States?",
    "how do I return a defective product",
    "Qu'est-ce que la mécanique quantique ?",
    "東京の人口は？",
]

DOCUMENTS = [
    *CAPITAL_DOCS,
    "Hi, I have a question about the return policy for this product. I purchased it a few weeks ago and it is defective.",
    "La mécanique quantique décrit le comportement des particules à très petite échelle ; c'est fascinant.",
    "Die Quantenmechanik beschreibt das Verhalten von Teilchen auf sehr kleinen Skalen. Größe, Maß, Übung.",
    "東京都の人口は約1400万人で、日本で最も人口の多い都道府県です。",
    "Москва — столица России, крупнейший по численности населения город страны.",
    "القاهرة هي عاصمة جمهورية مصر العربية وأكبر مدنها.",
    "Great product!!! 😀👍🏽 Would buy again 🚀🚀 — 5/5 ⭐⭐⭐⭐⭐",
    '<p>HTML <b>markup</b> &amp; entities&nbsp;here</p> plus `code` and {"json": [1, 2, 3]}',
    "",
    "   ",
    "a",
    "tab\tseparated\tvalues\nand new lines\r\nand control\x00chars\x07here\x1b[0m",
    "Ελληνικά: η Αθήνα είναι η πρωτεύουσα της Ελλάδας.",
    "עברית: ירושלים היא בירת ישראל.",
    "mixed 中文 and English with numbers 12345 and 3.14159",
]

LONG_DOCUMENT = " ".join(
    f"Paragraph {i}: the capital of the United States is Washington, D.C., while New York is its largest city; "
    f"Москва {i}, 東京 {i}, emoji {'😀' * (i % 3)}."
    for i in range(60)
)


def debian_documents(max_files: int = 200, max_chars_per_file: int = 20_000) -> list[str]:
    """Real English text with some non-ASCII (names, symbols), from the copyright and
    changelog.Debian.gz files Debian installs with its packages' documentation: paragraphs of up
    to ``max_files`` files of each kind, spread over the packages, at most ``max_chars_per_file``
    characters from each. Empty when the machine has no such files."""
    import gzip
    from pathlib import Path

    docs: list[str] = []
    root = Path("/usr/share/doc")
    for pattern, opener in (("*/copyright", open), ("*/changelog.Debian.gz", gzip.open)):
        files = sorted(root.glob(pattern))
        step = max(1, len(files) // max_files)
        for path in files[::step][:max_files]:
            try:
                with opener(path, "rt", encoding="utf-8") as f:
                    text = f.read(max_chars_per_file)
            except (OSError, UnicodeDecodeError, EOFError):
                continue
            docs.extend(p for p in text.split("\n\n") if p.strip())
    return docs


def short_documents(n: int, words: int = 31) -> list[str]:
    """``n`` documents of ``words`` words each (~60 BERT tokens at 31) cut from
    :func:`debian_documents`, or from this module's examples where the machine has none."""
    pool = " ".join(debian_documents(100, 20_000)).split()
    if len(pool) < 10 * words:
        pool = " ".join([*DOCUMENTS, LONG_DOCUMENT] * 20).split()
    starts = ((i * words) % (len(pool) - words) for i in range(n))
    return [" ".join(pool[s : s + words]) for s in starts]
