"""Tokenization: a model's tokenizer.json -> token ids without special tokens, and the pair
template (where [CLS]/[SEP] or <s>/</s> go) read from the tokenizer's post-processor.

BERT WordPiece tokenizers (BertNormalizer, BertPreTokenizer, WordPiece, plain added tokens) take
the core's exact fast path: text is cut at ASCII whitespace, ASCII chunks are tokenized in C++
and the rare chunks with other characters by HF ``tokenizers`` in one batch call (their ids are
remembered: the same names and symbols recur), spliced back in place. Every other tokenizer goes
through ``tokenizers``. ``Tokenizer.is_fast`` and
``Tokenizer.fast_path_reason`` say which path a tokenizer took and why.
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fastrerank import _core
from fastrerank.cpu import physical_cores

__all__ = ["ENCODE_CHUNK_CHARS", "FallbackStats", "TOKENIZERS_TESTED", "Tokenizer", "load", "tokenizers_version_tested"]

# The `tokenizers` releases the fast path was checked against, [low, high): the fast path copies
# their behaviour, so it only switches on for these. The differential tests passed on 0.20.0,
# 0.20.3, 0.21.0, 0.21.4, 0.22.0, 0.22.2, 0.23.1 and 0.23.3; widen only after running them on the
# new release (scripts/tokenizers_versions.py).
TOKENIZERS_TESTED = ((0, 20), (0, 24))

# Non-ASCII spans whose ids the fast path remembers (then it forgets them all and starts over).
SPAN_CACHE_SIZE = 1 << 16

# Characters `tokenizers` is given per call: bounds its transient memory (its per-token objects
# for a thousand 4,096-token documents would otherwise take ~0.5 GB at once). The fast path
# makes no per-token objects and needs no such bound.
ENCODE_CHUNK_CHARS = 1 << 20

# Set to 0 to turn the fast path off everywhere (e.g. to rule it out when chasing a difference).
FAST_PATH_ENV = "FASTRERANK_FAST_TOKENIZER"


@dataclass(frozen=True)
class FallbackStats:
    """What a fast-path tokenizer has done since it was loaded: how many tokens came from
    ``tokenizers`` (chunks with non-ASCII characters) rather than from the C++ path."""

    texts: int
    tokens: int
    fallback_texts: int  # spans that went to the fallback (runs of non-ASCII chunks)
    fallback_tokens: int  # the tokens they gave
    tokenized_spans: int  # of those spans, how many `tokenizers` saw (the rest were remembered)

    @property
    def fallback_share(self) -> float:
        """fallback_tokens / tokens (0 when nothing was tokenized)."""
        return self.fallback_tokens / self.tokens if self.tokens else 0.0


@dataclass
class _Counts:
    """FallbackStats' fields while they are counted."""

    texts: int = 0
    tokens: int = 0
    fallback_texts: int = 0
    fallback_tokens: int = 0
    tokenized_spans: int = 0


class Tokenizer:
    """A model's tokenizer, set up for reranking: no truncation, no padding, no special tokens
    (the core adds the pair template). Safe to share between threads.

    Args:
        path: the tokenizer.json file.
        fast: use the native WordPiece fast path when the tokenizer allows it (default: yes,
            unless the environment variable FASTRERANK_FAST_TOKENIZER is 0); False forces
            `tokenizers`.
        threads: threads the fast path may split a big batch over (default: the physical cores,
            at most 8; tokenization runs before the model, never beside it). Small batches use one.
    """

    def __init__(self, path: str | Path, *, fast: bool | None = None, threads: int | None = None) -> None:
        from tokenizers import Tokenizer as HFTokenizer

        self.path = Path(path)
        try:
            self._tok = HFTokenizer.from_file(str(self.path))
        except Exception as e:  # tokenizers raises a bare Exception on malformed files
            raise ValueError(f"cannot load tokenizer {self.path}: {e}") from e
        self._tok.no_truncation()
        self._tok.no_padding()
        self._config: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        self.pair_template: _core.PairTemplate = _pair_template(self._config, self._tok)
        self.pad_id = _pad_id(self._config, self._tok)
        _check_template(self._tok, self.pair_template)

        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)):
            raise TypeError(f"threads must be an int or None, got {type(threads).__name__}")
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self.threads: int = threads or min(physical_cores(), 8)
        self._lock = threading.Lock()
        self._counts = _Counts()
        self._span_ids: dict[str, list[int]] = {}
        self._native: Any = None
        if fast is None:
            fast = os.environ.get(FAST_PATH_ENV, "1").strip() not in ("0", "false", "no", "off")
        if not fast:
            self.fast_path_reason = "fast path turned off by the caller"
        else:
            self._native, self.fast_path_reason = _native_tokenizer(self._config, self._tok)
            if self._native is not None:
                mismatch = self._self_check()
                if mismatch is not None:
                    warnings.warn(
                        f"fastrerank: the native WordPiece fast path does not match `tokenizers` on {mismatch!r} "
                        f"for {self.path}; falling back to `tokenizers` for this tokenizer",
                        RuntimeWarning,
                        stacklevel=3,
                    )
                    self._native = None
                    self.fast_path_reason = f"the load-time self-check failed on {mismatch!r}"
                self._counts = _Counts()
                self._span_ids.clear()

    @property
    def is_fast(self) -> bool:
        """Whether the native (C++) WordPiece fast path is on for this tokenizer."""
        return self._native is not None

    def encode_ids(self, texts: list[str]) -> list[list[int]]:
        """Token ids of every text, without special tokens, exactly as `tokenizers` gives them."""
        if self._native is None:
            return [e.ids for e in self._tok.encode_batch_fast(texts, add_special_tokens=False)]
        ids, offsets, _ = self._encode_native(texts, offsets=False)
        flat, bounds = ids.tolist(), offsets.tolist()
        return [flat[a:b] for a, b in zip(bounds, bounds[1:])]

    def encode_ragged(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids of every text as one flat int32 array plus int64 offsets (n + 1): text i is
        ``ids[offsets[i]:offsets[i + 1]]``. The engine's path: on the fast path the arrays are
        the core's own buffers (no copy); through `tokenizers`, at most ENCODE_CHUNK_CHARS
        characters are tokenized at a time."""
        if self._native is not None:
            ids, offsets, _ = self._encode_native(texts, offsets=False)
            return ids, offsets
        return _joined([self._encode_slow(c) for c in _chunks(texts)], len(texts))

    def _encode_slow(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        lists = [e.ids for e in self._tok.encode_batch_fast(texts, add_special_tokens=False)]
        offsets = np.zeros(len(lists) + 1, dtype=np.int64)
        np.cumsum([len(x) for x in lists], out=offsets[1:])
        flat = np.fromiter((t for x in lists for t in x), dtype=np.int32, count=int(offsets[-1]))
        return flat, offsets

    def encode_offsets(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        """(start, end) character offsets into each text of each of its tokens, as
        `tokenizers`' ``Encoding.offsets`` gives them (``add_special_tokens=False``)."""
        if self._native is None:
            return [e.offsets for e in self._tok.encode_batch(texts, add_special_tokens=False)]
        chars, offsets = self.encode_offsets_ragged(texts)
        pairs = list(map(tuple, chars.tolist()))
        bounds = offsets.tolist()
        return [pairs[a:b] for a, b in zip(bounds, bounds[1:])]

    def encode_offsets_ragged(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`encode_offsets` as arrays: int64 [tokens, 2] (start, end) of every token, the
        same tokens as :meth:`encode_ragged` gives, plus int64 offsets (n + 1): text i's are
        ``chars[offsets[i]:offsets[i + 1]]``. Relevant spans read them."""
        if self._native is not None:
            _, offsets, chars = self._encode_native(texts, offsets=True)
            assert chars is not None  # asked for
            return chars, offsets
        return _joined([self._offsets_slow(c) for c in _chunks(texts)], len(texts))

    def _offsets_slow(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        lists = [e.offsets for e in self._tok.encode_batch(texts, add_special_tokens=False)]
        offsets = np.zeros(len(lists) + 1, dtype=np.int64)
        np.cumsum([len(x) for x in lists], out=offsets[1:])
        flat = np.fromiter((c for x in lists for pair in x for c in pair), dtype=np.int64, count=2 * int(offsets[-1]))
        return flat.reshape(-1, 2), offsets

    def fallback_stats(self) -> FallbackStats:
        """Texts and tokens through the fast path so far, and how many of those tokens came from
        `tokenizers` (non-ASCII chunks). All zero when the fast path is off."""
        with self._lock:
            return FallbackStats(**vars(self._counts))

    def _encode_native(self, texts: list[str], *, offsets: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(ids, offsets, character spans or None) through the fast path: C++ on ASCII chunks,
        `tokenizers` on the non-ASCII spans, spliced together by the core."""
        if not isinstance(texts, list):
            texts = list(texts)
        batch = self._native.encode(texts, offsets=offsets, threads=self.threads)
        spans = batch.fallback_texts
        if not spans:
            result = batch.finish([], [] if offsets else None)
        elif offsets:
            encodings = self._tok.encode_batch(spans, add_special_tokens=False)
            result = batch.finish([e.ids for e in encodings], [e.offsets for e in encodings])
        else:
            result = batch.finish(self._fallback_ids(spans))
        with self._lock:
            c = self._counts
            c.texts += len(texts)
            c.tokens += len(result[0])
            c.fallback_texts += len(spans)
            c.fallback_tokens += batch.fallback_tokens
        return result

    def _fallback_ids(self, spans: list[str]) -> list[list[int]]:
        """Ids of non-ASCII spans through `tokenizers`, remembered: the same names and symbols
        come back document after document, and `tokenizers` costs ~2 us a token. Safe with
        other threads filling or clearing the cache meanwhile."""
        cache = self._span_ids
        found: dict[str, list[int]] = {}
        missing = []
        for span in dict.fromkeys(spans):
            ids = cache.get(span)
            if ids is None:
                missing.append(span)
            else:
                found[span] = ids
        if missing:
            fresh = dict(zip(missing, (e.ids for e in self._tok.encode_batch_fast(missing, add_special_tokens=False))))
            found.update(fresh)
            if len(cache) + len(fresh) > SPAN_CACHE_SIZE:
                cache.clear()
            cache.update(fresh)
            with self._lock:
                self._counts.tokenized_spans += len(missing)
        return [found[span] for span in spans]

    def _self_check(self) -> str | None:
        """The first probe text on which the fast path and `tokenizers` differ (ids or
        offsets), or None."""
        probes = _probe_texts(self._config)
        want = self._tok.encode_batch(probes, add_special_tokens=False)
        ids = self.encode_ids(probes)
        spans = self.encode_offsets(probes)
        for text, w, i, o in zip(probes, want, ids, spans):
            if w.ids != i or w.offsets != o:
                return text
        return None


def _chunks(texts: list[str]) -> list[list[str]]:
    """``texts`` in consecutive runs of at most ENCODE_CHUNK_CHARS characters (a longer text alone)."""
    chunks: list[list[str]] = [[]]
    size = 0
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] must be a str, got {type(t).__name__}")
        if size + len(t) > ENCODE_CHUNK_CHARS and chunks[-1]:
            chunks.append([])
            size = 0
        chunks[-1].append(t)
        size += len(t)
    return chunks


def _joined(parts: list[tuple[np.ndarray, np.ndarray]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Ragged (values, offsets) parts of consecutive texts as one: values concatenated, offsets rebased."""
    if len(parts) == 1:
        return parts[0]
    offsets = np.zeros(n + 1, dtype=np.int64)
    at = base = 0
    for values, bounds in parts:
        k = len(bounds) - 1
        offsets[at + 1 : at + k + 1] = bounds[1:] + base
        at += k
        base += len(values)
    return np.concatenate([values for values, _ in parts]), offsets


def load(path: str | Path, *, fast: bool | None = None, threads: int | None = None) -> Tokenizer:
    """Loads ``tokenizer.json`` (a file, or a model directory holding one) for reranking; the
    native WordPiece fast path switches on where it is exact (see :class:`Tokenizer`)."""
    p = Path(path)
    if p.is_dir():
        p = p / "tokenizer.json"
    if not p.is_file():
        raise FileNotFoundError(f"no tokenizer.json at {p}")
    return Tokenizer(p, fast=fast, threads=threads)


def tokenizers_version_tested(version: str) -> bool:
    """Whether the fast path was checked against this `tokenizers` release."""
    try:
        parts = tuple(int(p) for p in version.split(".")[:2])
    except ValueError:
        return False
    low, high = TOKENIZERS_TESTED
    return low <= parts < high


def _single(component: Any, list_key: str) -> Any:
    """A component, or the only member of a ``Sequence`` of one (an equivalent spelling)."""
    if isinstance(component, dict) and component.get("type") == "Sequence":
        members = component.get(list_key)
        if isinstance(members, list) and len(members) == 1 and set(component) == {"type", list_key}:
            return _single(members[0], list_key)
    return component


_BERT_NORMALIZER_KEYS = {"type", "clean_text", "handle_chinese_chars", "strip_accents", "lowercase"}
_ADDED_TOKEN_FLAGS = ("single_word", "lstrip", "rstrip", "normalized")


def _fast_path_options(config: dict[str, Any], tok: Any) -> tuple[dict[str, Any] | None, str]:
    """The native tokenizer's arguments when the tokenizer (its tokenizer.json and the loaded
    `tokenizers` object) is exactly what the fast path covers, else (None, the reason it is not)."""
    import tokenizers

    if not tokenizers_version_tested(tokenizers.__version__):
        low, high = (".".join(map(str, v)) for v in TOKENIZERS_TESTED)
        return None, f"tokenizers {tokenizers.__version__} is outside the range the fast path was tested on (>={low},<{high})"
    model = config.get("model")
    if not isinstance(model, dict) or model.get("type") != "WordPiece":
        kind = model.get("type") if isinstance(model, dict) else model
        return None, f"the model is {kind!r}, not WordPiece"
    vocab, unk = model.get("vocab"), model.get("unk_token")
    prefix, max_chars = model.get("continuing_subword_prefix"), model.get("max_input_chars_per_word")
    if not isinstance(vocab, dict) or not isinstance(unk, str) or not isinstance(prefix, str):
        return None, "the WordPiece model lacks a vocab, unk_token or continuing_subword_prefix"
    if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 0:
        return None, f"max_input_chars_per_word is {max_chars!r}"
    if unk not in vocab:
        return None, f"the unknown token {unk!r} is not in the vocabulary"

    normalizer = _single(config.get("normalizer"), "normalizers")
    if not isinstance(normalizer, dict) or normalizer.get("type") != "BertNormalizer":
        return None, f"the normalizer is {_describe(normalizer)}, not BertNormalizer"
    if (
        set(normalizer) != _BERT_NORMALIZER_KEYS
        or not all(isinstance(normalizer[k], bool) for k in ("clean_text", "handle_chinese_chars", "lowercase"))
        or normalizer["strip_accents"] not in (None, True, False)
    ):
        return None, f"the BertNormalizer has settings the fast path does not know: {normalizer}"
    pre = _single(config.get("pre_tokenizer"), "pretokenizers")
    if pre != {"type": "BertPreTokenizer"}:
        return None, f"the pre-tokenizer is {_describe(pre)}, not BertPreTokenizer"
    post = config.get("post_processor")
    if post is not None and _describe(post) not in ("TemplateProcessing", "BertProcessing"):
        return None, f"the post-processor is {_describe(post)}"

    # Added tokens as the loaded tokenizer holds them: `tokenizers` does not keep the ids written
    # in tokenizer.json (a token in the vocabulary gets its vocabulary id, the others the next
    # free ids in order), so the live ones are the truth.
    added: dict[str, int] = {}
    for token_id, token in sorted(tok.get_added_tokens_decoder().items()):
        content = token.content
        if not content or any(c in content for c in " \t\n\r"):
            return None, f"added token {content!r} is empty or holds whitespace"
        flags = [f for f in _ADDED_TOKEN_FLAGS if getattr(token, f)]
        if flags:
            return None, f"added token {content!r} is {'/'.join(flags)}, which the fast path does not do"
        added[content] = token_id
    options = dict(
        vocab=tok.get_vocab(with_added_tokens=False),
        unk_token=unk,
        added_tokens=added,
        clean_text=normalizer["clean_text"],
        lowercase=normalizer["lowercase"],
        continuing_subword_prefix=prefix,
        max_input_chars_per_word=max_chars,
    )
    return options, (
        f"native WordPiece fast path (BertNormalizer lowercase={normalizer['lowercase']}, "
        f"clean_text={normalizer['clean_text']}; {len(vocab)} pieces, {len(added)} added tokens)"
    )


def _describe(component: Any) -> str:
    if isinstance(component, dict):
        return str(component.get("type"))
    return repr(component)


def _native_tokenizer(config: dict[str, Any], tok: Any) -> tuple[Any, str]:
    """(the core's WordPieceTokenizer, why) or (None, why not)."""
    options, reason = _fast_path_options(config, tok)
    if options is None:
        return None, reason
    from fastrerank import _core

    try:
        return _core.WordPieceTokenizer(**options), reason
    except (ValueError, TypeError) as e:
        return None, f"the native tokenizer refused this vocabulary: {e}"


def _probe_texts(config: dict[str, Any]) -> list[str]:
    """Texts for the load-time self-check: the fast path's rules at their edges, with pieces of
    this tokenizer's own vocabulary, added tokens and word-length limit."""
    model = config["model"]
    pieces = sorted(model["vocab"], key=lambda t: model["vocab"][t])
    prefix = model["continuing_subword_prefix"]
    ascii_words = [p for p in pieces if p.isascii() and p.isalnum()]
    continuations = [p[len(prefix) :] for p in pieces if prefix and p.startswith(prefix) and p[len(prefix) :].isascii()]
    step = max(1, len(ascii_words) // 40)
    words = ascii_words[::step][:40]
    glued = ["".join(words[i : i + 3]) + "".join(continuations[i : i + 2]) for i in range(0, len(words), 3)]
    max_chars = model["max_input_chars_per_word"]
    letter = next((w for w in ascii_words if len(w) == 1), "a")
    added = [t["content"] for t in config.get("added_tokens") or []]
    probes = [
        "",
        "   ",
        'Hello, World!! What\'s up? (fine) -- [ok] {x} <y> a/b\\c @me #tag $5 100% ^_^ `q` ~z |p| "s" ;:',
        "The QUICK brown Fox: 3.14159, 1,000,000 and 2026-11-23T19:02:17Z.",
        " ".join(words),
        " ".join(glued),
        "un" + "".join(continuations[:6]) + " " + prefix + "x " + "x" + prefix + "y " + prefix,
        "tab\tnew\nline\rreturn\x0bvt\x0cff\x00nul\x01soh\x1fus\x1cfs\x7fdel end",
        "a\x0bb c\x0cd \x0b\x0c \x01 \x7f",
        "caf\u00e9 na\u00efve CAF\u00c9 \u00fcber stra\u00dfe \u6771\u4eac is big \u041c\u043e\u0441\u043a\u0432\u0430, ok.",
        "emoji \U0001f600\U0001f44d\U0001f3fd x \u2014 \u201cquoted\u201d \u00a0nbsp\u3000ideo \u0085nel",
    ]
    if max_chars <= 10_000:  # words at the length limit, and one past it
        probes += [
            letter * max_chars,
            letter * (max_chars + 1),
            letter * max(0, max_chars - 1) + "\x01" + letter,
            "".join(words)[:max_chars] + " " + "".join(words)[: max_chars + 1] + ".",
        ]
    for token in added[:20]:
        probes += [f"{token}", f"x{token}y {token}{token} {token.lower()} {token}.", f"a{token[:-1]} {token[1:]}"]
    return probes


def _special_ids(tok: Any, name: str) -> list[int]:
    token_id = tok.token_to_id(name)
    if token_id is None:
        raise ValueError(f"the tokenizer's post-processor names {name!r}, which is not in its vocabulary")
    return [token_id]


def _template(parts: list[list[tuple[int, int]]], query_type: int, doc_type: int) -> _core.PairTemplate:
    """The core's PairTemplate from (id, type) lists before, between and after the texts."""
    ids = [[i for i, _ in p] for p in parts]
    types = [[t for _, t in p] for p in parts]
    return _core.PairTemplate(
        prefix=ids[0],
        prefix_types=types[0],
        query_type=query_type,
        middle=ids[1],
        middle_types=types[1],
        doc_type=doc_type,
        suffix=ids[2],
        suffix_types=types[2],
    )


def _from_template_processing(proc: dict[str, Any]) -> _core.PairTemplate:
    specials = {k: list(v["ids"]) for k, v in proc.get("special_tokens", {}).items()}
    parts: list[list[tuple[int, int]]] = [[], [], []]  # before A, between A and B, after B
    seen: list[str] = []
    type_of = {}
    for piece in proc["pair"]:
        if "Sequence" in piece:
            seq = piece["Sequence"]["id"]
            seen.append(seq)
            type_of[seq] = int(piece["Sequence"]["type_id"])
        else:
            token = piece["SpecialToken"]
            ids = specials.get(token["id"])
            if ids is None:
                raise ValueError(f"pair template names special token {token['id']!r} without ids")
            parts[len(seen)].extend((i, int(token["type_id"])) for i in ids)
    if seen != ["A", "B"]:
        raise ValueError(f"pair template orders its sequences as {seen}; only A then B is supported")
    return _template(parts, type_of["A"], type_of["B"])


def _pair_template(config: dict[str, Any], tok: Any) -> _core.PairTemplate:
    proc = config.get("post_processor")
    if proc is None:
        raise ValueError(
            "tokenizer.json has no post_processor, so the pair template ([CLS] q [SEP] d [SEP] or "
            "similar) is unknown; re-save the tokenizer with its post-processor"
        )
    if proc["type"] == "Sequence":
        candidates = [p for p in proc["processors"] if p["type"] in ("TemplateProcessing", "BertProcessing", "RobertaProcessing")]
        if len(candidates) != 1:
            raise ValueError("tokenizer.json's post-processor sequence has no single template processor")
        proc = candidates[0]
    kind = proc["type"]
    if kind == "TemplateProcessing":
        return _from_template_processing(proc)
    if kind == "BertProcessing":
        cls_, sep = proc["cls"][1], proc["sep"][1]
        return _template([[(cls_, 0)], [(sep, 0)], [(sep, 1)]], 0, 1)
    if kind == "RobertaProcessing":
        cls_, sep = proc["cls"][1], proc["sep"][1]
        return _template([[(cls_, 0)], [(sep, 0), (sep, 0)], [(sep, 0)]], 0, 0)
    raise ValueError(f"unsupported post-processor {kind!r} in tokenizer.json")


def _pad_id(config: dict[str, Any], tok: Any) -> int:
    padding = config.get("padding") or {}
    if "pad_id" in padding:
        return int(padding["pad_id"])
    for name in ("[PAD]", "<pad>", "<PAD>"):
        token_id = tok.token_to_id(name)
        if token_id is not None:
            return int(token_id)
    return 0  # masked out by attention_mask; the value does not change the scores


def _apply(t: _core.PairTemplate, query: list[int], doc: list[int]) -> tuple[list[int], list[int]]:
    """(ids, type ids) of one row under template ``t``: the plain-Python statement of it."""
    ids = [*t.prefix, *query, *t.middle, *doc, *t.suffix]
    types = [*t.prefix_types, *[t.query_type] * len(query), *t.middle_types, *[t.doc_type] * len(doc), *t.suffix_types]
    return ids, types


def _check_template(tok: Any, spec: _core.PairTemplate) -> None:
    """The parsed template must rebuild exactly what `tokenizers` builds for a pair."""
    query, doc = "what is a probe?", "A probe checks the pair template."
    q = tok.encode(query, add_special_tokens=False).ids
    d = tok.encode(doc, add_special_tokens=False).ids
    want = tok.encode(query, doc, add_special_tokens=True)
    ids, types = _apply(spec, q, d)
    if ids != want.ids or types != want.type_ids:
        raise ValueError(
            "the pair template read from tokenizer.json does not reproduce the tokenizer's own "
            f"pair encoding (got {ids} / {types}, tokenizers gives {want.ids} / {want.type_ids})"
        )
