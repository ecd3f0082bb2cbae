"""The native WordPiece fast path against HF `tokenizers`: ids and offsets must be equal on
every input, for the real MiniLM tokenizer and variants of it with other settings.

Run with -s to see how many strings and tokens the differential tests covered.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import tokenizers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastrerank import tokenization

import gil
import texts as sample_texts

ROOT = Path(__file__).resolve().parent.parent
COVERED: Counter[tuple[str, str]] = Counter()  # (kind of text, strings | tokens | mismatches)


@pytest.fixture(scope="module", autouse=True)
def _report_coverage():
    yield
    for kind in sorted({k for k, _ in COVERED}):
        print(
            f"\ndifferential tests, {kind}: {COVERED[kind, 'strings']} strings, {COVERED[kind, 'tokens']} tokens, "
            f"{COVERED[kind, 'mismatches']} mismatches",
            end="",
        )
    print()


def reference(path: Path) -> tokenizers.Tokenizer:
    tok = tokenizers.Tokenizer.from_file(str(path))
    tok.no_padding()
    tok.no_truncation()
    return tok


def assert_same(fast: tokenization.Tokenizer, ref: tokenizers.Tokenizer, texts: list[str], kind: str, offsets: bool = True) -> None:
    assert fast.is_fast, fast.fast_path_reason
    want = ref.encode_batch(texts, add_special_tokens=False) if offsets else ref.encode_batch_fast(texts, add_special_tokens=False)
    got_ids = fast.encode_ids(texts)
    got_offsets = fast.encode_offsets(texts) if offsets else [None] * len(texts)
    ids, bounds = fast.encode_ragged(texts)
    for i, (text, w) in enumerate(zip(texts, want)):
        COVERED[kind, "strings"] += 1
        COVERED[kind, "tokens"] += len(w.ids)
        same = got_ids[i] == w.ids and ids[bounds[i] : bounds[i + 1]].tolist() == w.ids
        if offsets:
            same = same and got_offsets[i] == w.offsets
        if not same:
            COVERED[kind, "mismatches"] += 1
        assert got_ids[i] == w.ids, f"ids differ on {text!r}"
        assert ids[bounds[i] : bounds[i + 1]].tolist() == w.ids, f"encode_ragged differs on {text!r}"
        if offsets:
            assert got_offsets[i] == w.offsets, f"offsets differ on {text!r}"


# ---------------------------------------------------------------------------------------------
# tokenizer.json variants


def variant(src: Path, out_dir: Path, name: str, edit) -> Path:
    config = json.loads(src.read_text(encoding="utf-8"))
    edit(config)
    out = out_dir / f"{name}.json"
    out.write_text(json.dumps(config), encoding="utf-8")
    return out


def _set(section: str, **values):
    def edit(config):
        config[section].update(values)

    return edit


def _add_tokens(config):
    # added, non-special tokens: some inside vocabulary words, one with punctuation, one with a
    # control character, one non-ASCII (only matched in fallback spans), one a prefix of another
    base = max(t["id"] for t in config["added_tokens"]) + len(config["model"]["vocab"])
    for i, content in enumerate(["Hello", "ab", "foo##bar", "<tag>", "x\x01y", "ñandú", "<tag>!", "ing"]):
        config["added_tokens"].append(
            {
                "id": base + i,
                "content": content,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": False,
            }
        )


VARIANTS = {
    "minilm": lambda c: None,
    "cased": _set("normalizer", lowercase=False),
    "strip_accents_true": _set("normalizer", strip_accents=True),
    "strip_accents_false": _set("normalizer", strip_accents=False),
    "no_chinese_chars": _set("normalizer", handle_chinese_chars=False),
    "no_clean_text": _set("normalizer", clean_text=False),
    "max_chars_12": _set("model", max_input_chars_per_word=12),
    "added_tokens": _add_tokens,
    "sequence_wrapped": lambda c: c.update(
        normalizer={"type": "Sequence", "normalizers": [c["normalizer"]]},
        pre_tokenizer={"type": "Sequence", "pretokenizers": [c["pre_tokenizer"]]},
    ),
}


@pytest.fixture(scope="module")
def variants(minilm, tmp_path_factory) -> dict[str, tuple[tokenization.Tokenizer, tokenizers.Tokenizer]]:
    out = tmp_path_factory.mktemp("tokenizers")
    src = minilm / "tokenizer.json"
    made = {}
    for name, edit in VARIANTS.items():
        path = variant(src, out, name, edit)
        made[name] = (tokenization.load(path), reference(path))
    return made


@pytest.fixture(scope="module")
def vocab_pieces(minilm) -> tuple[list[str], list[str]]:
    vocab = json.loads((minilm / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
    words = sorted(t for t in vocab if t.isascii() and not t.startswith("##") and not t.startswith("["))
    rest = sorted(t[2:] for t in vocab if t.startswith("##") and t.isascii())
    return words, rest


# ---------------------------------------------------------------------------------------------
# generated strings

CONTROL = [chr(c) for c in [*range(0x00, 0x20), 0x7F]]
WHITESPACE = [" ", "  ", "\t", "\n", "\r\n", "\x0b", "\x0c", "\x1c", "\x1f"]
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
NON_ASCII = [
    "é",
    "É",
    "ß",
    "naïve",
    "Ωmega",
    "ΣΑΣ",
    "İstanbul",
    "ﬁne",
    "e\u0301",
    "\u0301",
    "東京",
    "中文字",
    "😀",
    "👍🏽",
    "🇫🇷",
    "\u00a0",
    "\u3000",
    "\u2028",
    "\u0085",
    "\u200b",
    "\u200d",
    "\ufeff",
    "\ufffd",
    "—",
    "…",
    "“q”",
    "€5",
    "ǅ",
    "ﬀ",
    "Å",
    "\u05e9\u05dc",
]
SPECIAL = [
    "[CLS]",
    "[SEP]",
    "[PAD]",
    "[MASK]",
    "[UNK]",
    "[SEP",
    "SEP]",
    "[sep]",
    "[CLS][SEP]",
    "Hello",
    "ab",
    "foo##bar",
    "<tag>",
    "<tag>!",
    "x\x01y",
    "ñandú",
    "ing",
]


@st.composite
def atoms(draw, words: list[str], rest: list[str]) -> str:
    kind = draw(st.integers(0, 11))
    if kind == 0:
        return draw(st.sampled_from(CONTROL))
    if kind == 1:
        return draw(st.sampled_from(WHITESPACE))
    if kind == 2:
        return "".join(draw(st.lists(st.sampled_from(PUNCT), min_size=1, max_size=5)))
    if kind == 3:
        return draw(st.sampled_from(NON_ASCII))
    if kind == 4:
        return draw(st.sampled_from(SPECIAL))
    if kind == 5:  # words of 95-105 characters, around max_input_chars_per_word
        n = draw(st.integers(95, 105))
        return draw(st.sampled_from(["x", "a", "Z", "ab", "the"])) * n
    if kind == 6:  # a long word of vocabulary pieces, cut to 95-105 characters
        pieces = draw(st.lists(st.sampled_from(rest), min_size=20, max_size=60))
        return (draw(st.sampled_from(words)) + "".join(pieces))[: draw(st.integers(95, 105))]
    if kind == 7:  # concatenations of vocabulary pieces, sometimes capitalised
        head = draw(st.sampled_from(words))
        tail = "".join(draw(st.lists(st.sampled_from(rest), max_size=4)))
        word = head + tail
        return draw(st.sampled_from([word, word.upper(), word.capitalize()]))
    if kind == 8:  # anything printable or control in ASCII
        return draw(st.text(st.characters(max_codepoint=0x7F), max_size=12))
    if kind == 9:  # any Unicode at all
        return draw(st.text(max_size=4))
    return draw(st.sampled_from(words))


def documents(words, rest):
    atom = atoms(words, rest)
    joined = st.lists(atom, max_size=25).map("".join)
    spaced = st.lists(atom, max_size=25).map(" ".join)
    return st.lists(st.one_of(joined, spaced), min_size=1, max_size=6)


# Generating the strings costs more than checking them, so every example goes through every
# variant at once. FASTRERANK_DIFF_EXAMPLES raises the count for a longer hunt.
@settings(
    max_examples=int(os.environ.get("FASTRERANK_DIFF_EXAMPLES", 200)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_fast_path_equals_tokenizers_on_generated_strings(variants, vocab_pieces, tiny, data):
    words, rest = vocab_pieces
    texts = data.draw(documents(words, rest), label="texts")
    for name, (fast, ref) in variants.items():
        try:
            assert_same(fast, ref, texts, "generated")
        except AssertionError as e:
            raise AssertionError(f"variant {name}: {e}") from None
    # the tiny 600-piece vocabulary: most words split into many pieces or end as [UNK]
    tiny_words, tiny_rest, fast, ref = tiny
    assert_same(fast, ref, data.draw(documents(tiny_words, tiny_rest), label="tiny texts"), "generated")


@pytest.fixture(scope="module")
def tiny(tiny_models):
    path = tiny_models["bert-1"] / "tokenizer.json"
    fast = tokenization.load(path)
    vocab = fast._config["model"]["vocab"]
    words = sorted(t for t in vocab if t.isascii() and not t.startswith("#"))
    rest = sorted(t[2:] for t in vocab if t.startswith("##") and t.isascii())
    return words, rest, fast, reference(path)


def test_fast_path_equals_tokenizers_on_the_probe_and_example_texts(variants):
    fast, ref = variants["minilm"]
    texts = [*tokenization._probe_texts(fast._config), *sample_texts.QUERIES, *sample_texts.DOCUMENTS, sample_texts.LONG_DOCUMENT]
    for name in VARIANTS:
        assert_same(*variants[name], texts, "probes and examples")


@pytest.fixture(scope="module")
def debian_docs() -> list[str]:
    # FASTRERANK_DIFF_FILES=1000 reads every file (~4x the text, ~4x the time)
    docs = sample_texts.debian_documents(max_files=int(os.environ.get("FASTRERANK_DIFF_FILES", 120)), max_chars_per_file=12_000)
    if len(docs) < 100:
        pytest.skip("this machine has no /usr/share/doc copyright and changelog files to read")
    return docs


@pytest.mark.parametrize("name", ["minilm", "cased", "no_clean_text", "added_tokens"])
def test_fast_path_equals_tokenizers_on_real_text(variants, debian_docs, name):
    fast, ref = variants[name]
    assert any(not d.isascii() for d in debian_docs)
    before = fast.fallback_stats()
    fast.encode_ragged(debian_docs)
    after = fast.fallback_stats()
    tokens = after.tokens - before.tokens
    share = (after.fallback_tokens - before.fallback_tokens) / tokens
    print(f"\n{name}: {len(debian_docs)} real documents, {tokens} tokens, {share:.3%} of them fell back to tokenizers")
    assert 0 < share < 0.05
    assert_same(fast, ref, debian_docs, "real text", offsets=False)
    assert_same(fast, ref, debian_docs[::10], "real text, with offsets")  # on a tenth


# ---------------------------------------------------------------------------------------------
# which path, and why


def test_installed_tokenizers_is_in_the_tested_range():
    assert tokenization.tokenizers_version_tested(tokenizers.__version__), (
        f"tokenizers {tokenizers.__version__} is outside TOKENIZERS_TESTED {tokenization.TOKENIZERS_TESTED}: "
        "run this file against it and widen the range, or pin tokenizers"
    )
    # the tested range lies inside what the package accepts
    pin = re.search(r'"tokenizers>=([\d.]+),<([\d.]+)"', (ROOT / "pyproject.toml").read_text()).groups()
    low, high = (tuple(int(x) for x in v.split(".")[:2]) for v in pin)
    assert low <= tokenization.TOKENIZERS_TESTED[0] and tokenization.TOKENIZERS_TESTED[1] <= high
    assert tokenization.tokenizers_version_tested("0.20.0") and tokenization.tokenizers_version_tested("0.23.9")
    assert not tokenization.tokenizers_version_tested("0.19.1")
    assert not tokenization.tokenizers_version_tested("0.24.0")
    assert not tokenization.tokenizers_version_tested("dev")


def test_other_tokenizers_say_why_they_are_not_fast(tiny_models, minilm, tmp_path, monkeypatch):
    xlmr = tokenization.load(tiny_models["xlmr"])
    assert not xlmr.is_fast and "Unigram" in xlmr.fast_path_reason
    assert xlmr.encode_ids(["hello world"]) == [
        reference(tiny_models["xlmr"] / "tokenizer.json").encode("hello world", add_special_tokens=False).ids
    ]
    assert xlmr.fallback_stats().tokens == 0

    src = minilm / "tokenizer.json"

    def not_covered(edit, why):
        tok = tokenization.load(variant(src, tmp_path, "v", edit))
        assert not tok.is_fast
        assert why in tok.fast_path_reason
        assert tok.encode_ids(["Hello, World"]) == [reference(tmp_path / "v.json").encode("Hello, World", add_special_tokens=False).ids]

    not_covered(lambda c: c.update(normalizer={"type": "Sequence", "normalizers": [c["normalizer"], {"type": "Lowercase"}]}), "Sequence")
    not_covered(lambda c: c.update(normalizer={"type": "Lowercase"}), "Lowercase")
    not_covered(lambda c: c.update(pre_tokenizer={"type": "Whitespace"}), "Whitespace")
    not_covered(lambda c: c["added_tokens"][1].update(normalized=True), "normalized")
    not_covered(lambda c: c["added_tokens"][2].update(lstrip=True), "lstrip")
    not_covered(lambda c: c["added_tokens"][2].update(single_word=True), "single_word")
    not_covered(lambda c: c["added_tokens"].append({**c["added_tokens"][0], "id": 30522, "content": "two words"}), "whitespace")
    not_covered(lambda c: c["normalizer"].update(extra_flag=True), "settings")
    not_covered(lambda c: c["model"].update(unk_token="<unk>"), "not in the vocabulary")

    assert not tokenization.load(src, fast=False).is_fast
    monkeypatch.setenv(tokenization.FAST_PATH_ENV, "0")
    assert "turned off" in tokenization.load(src).fast_path_reason
    monkeypatch.delenv(tokenization.FAST_PATH_ENV)
    monkeypatch.setattr(tokenizers, "__version__", "0.99.0")
    untested = tokenization.load(src)
    assert not untested.is_fast and "0.99.0" in untested.fast_path_reason


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda o: o.update(lowercase=not o["lowercase"]),
        lambda o: o.update(vocab={**o["vocab"], "the": o["vocab"]["a"], "a": o["vocab"]["the"]}),
        lambda o: o.update(max_input_chars_per_word=o["max_input_chars_per_word"] - 1),
        lambda o: o.update(added_tokens={}),
    ],
    ids=["lowercase", "vocab", "max_chars", "added"],
)
def test_self_check_turns_a_wrong_fast_path_off(minilm, monkeypatch, corrupt):
    real = tokenization._fast_path_options

    def broken(config, tok):
        options, reason = real(config, tok)
        options = copy.copy(options)
        corrupt(options)
        return options, reason

    monkeypatch.setattr(tokenization, "_fast_path_options", broken)
    with pytest.warns(RuntimeWarning, match="does not match `tokenizers`"):
        tok = tokenization.load(minilm)
    assert not tok.is_fast
    assert "self-check" in tok.fast_path_reason
    ref = reference(minilm / "tokenizer.json")
    assert tok.encode_ids(["The A b"]) == [ref.encode("The A b", add_special_tokens=False).ids]


# ---------------------------------------------------------------------------------------------
# the engine's path


def test_encode_ragged_arrays_and_threads(variants, debian_docs):
    fast, _ = variants["minilm"]
    ids, offsets = fast.encode_ragged(debian_docs)
    assert ids.dtype == np.int32 and offsets.dtype == np.int64
    assert ids.flags.c_contiguous and offsets.flags.c_contiguous
    assert not ids.flags.owndata  # the core's buffer, not a copy
    assert offsets[0] == 0 and offsets[-1] == len(ids) and len(offsets) == len(debian_docs) + 1
    one = tokenization.load(fast.path, threads=1).encode_ragged(debian_docs)
    two = tokenization.load(fast.path, threads=2).encode_ragged(debian_docs)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(one[0], ids)


def test_fallback_stats(minilm):
    tok = tokenization.load(minilm)
    assert tok.fallback_stats() == tokenization.FallbackStats(0, 0, 0, 0, 0)
    tok.encode_ragged(["plain ascii only", "more of it"])
    s = tok.fallback_stats()
    assert (s.texts, s.fallback_texts, s.fallback_tokens, s.fallback_share) == (2, 0, 0, 0.0) and s.tokens > 0
    tok.encode_ragged(["café au lait, 東京 東京 and more", "x"])
    s = tok.fallback_stats()
    assert s.texts == 4 and s.fallback_texts == 2 and 0 < s.fallback_tokens < s.tokens
    assert s.fallback_share == s.fallback_tokens / s.tokens and s.tokenized_spans == 2
    ids = tok.encode_ids(["東京 東京 ok, café", "café"])  # remembered spans are not tokenized again
    assert ids == [
        e.ids for e in reference(minilm / "tokenizer.json").encode_batch(["東京 東京 ok, café", "café"], add_special_tokens=False)
    ]
    assert tok.fallback_stats().tokenized_spans == 2


def test_bad_texts_raise_clear_errors(minilm):
    tok = tokenization.load(minilm)
    with pytest.raises(TypeError, match=r"texts\[1\] must be a str"):
        tok.encode_ragged(["ok", 3])
    with pytest.raises(ValueError, match=r"texts\[0\] cannot be encoded as UTF-8: .*surrogates"):
        tok.encode_ragged(["lone \ud800 surrogate"])
    assert tok.encode_ids([]) == []
    assert tok.encode_ids(("a", "b")) == [[1037], [1038]]


def test_tokenizing_releases_the_gil(minilm):
    tok = tokenization.load(minilm, threads=1)
    docs = ["The quick brown fox jumps over the lazy dog, again and again. " * 40] * 8000  # ~20 MB: ~0.2 s
    took, longest_stall = gil.stall_during(lambda: tok.encode_ragged(docs))
    assert took > 0.05, "tokenized too fast to tell"
    assert longest_stall < 0.5 * took, f"main thread stalled {longest_stall:.3f}s of {took:.3f}s"
