"""Tokenization: a model's tokenizer.json -> token ids without special tokens, and the pair
template (where [CLS]/[SEP] or <s>/</s> go) read from the tokenizer's post-processor."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["PairTemplateSpec", "Tokenizer", "load"]


@dataclass(frozen=True)
class PairTemplateSpec:
    """prefix + query + middle + document + suffix, with a type id for every special token and
    one for each text: the model's pair template as plain data."""

    prefix: tuple[int, ...]
    prefix_types: tuple[int, ...]
    query_type: int
    middle: tuple[int, ...]
    middle_types: tuple[int, ...]
    doc_type: int
    suffix: tuple[int, ...]
    suffix_types: tuple[int, ...]

    def apply(self, query: list[int], doc: list[int]) -> tuple[list[int], list[int]]:
        """(ids, type ids) of one row: the plain-Python statement of the template."""
        ids = [*self.prefix, *query, *self.middle, *doc, *self.suffix]
        types = [
            *self.prefix_types,
            *[self.query_type] * len(query),
            *self.middle_types,
            *[self.doc_type] * len(doc),
            *self.suffix_types,
        ]
        return ids, types


class Tokenizer:
    """A model's tokenizer, set up for reranking: no truncation, no padding, no special tokens
    (the core adds the pair template). Safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        from tokenizers import Tokenizer as HFTokenizer

        self.path = Path(path)
        try:
            self._tok = HFTokenizer.from_file(str(self.path))
        except Exception as e:  # tokenizers raises a bare Exception on malformed files
            raise ValueError(f"cannot load tokenizer {self.path}: {e}") from e
        self._tok.no_truncation()
        self._tok.no_padding()
        self._config: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        self.pair_template = _pair_template(self._config, self._tok)
        self.pad_id = _pad_id(self._config, self._tok)
        _check_template(self._tok, self.pair_template)

    @property
    def is_fast(self) -> bool:
        """Whether the native (C++) WordPiece fast path is on for this tokenizer."""
        return False

    def encode_ids(self, texts: list[str]) -> list[list[int]]:
        """Token ids of every text, without special tokens, exactly as `tokenizers` gives them."""
        return [e.ids for e in self._tok.encode_batch_fast(texts, add_special_tokens=False)]

    def encode_ragged(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids of every text as one flat int32 array plus int64 offsets (n + 1)."""
        ids = self.encode_ids(texts)
        offsets = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum([len(x) for x in ids], out=offsets[1:])
        flat = np.fromiter((t for x in ids for t in x), dtype=np.int32, count=int(offsets[-1]))
        return flat, offsets

    def encode_pair_reference(self, query: str, doc: str) -> tuple[list[int], list[int]]:
        """(ids, type ids) of a pair as `tokenizers` builds it with special tokens; for checks."""
        e = self._tok.encode(query, doc, add_special_tokens=True)
        return e.ids, e.type_ids


def load(path: str | Path) -> Tokenizer:
    """Loads ``tokenizer.json`` (a file, or a model directory holding one) for reranking."""
    p = Path(path)
    if p.is_dir():
        p = p / "tokenizer.json"
    if not p.is_file():
        raise FileNotFoundError(f"no tokenizer.json at {p}")
    return Tokenizer(p)


def _special_ids(tok: Any, name: str) -> list[int]:
    token_id = tok.token_to_id(name)
    if token_id is None:
        raise ValueError(f"the tokenizer's post-processor names {name!r}, which is not in its vocabulary")
    return [token_id]


def _from_template_processing(proc: dict[str, Any]) -> PairTemplateSpec:
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
    return PairTemplateSpec(
        prefix=tuple(i for i, _ in parts[0]),
        prefix_types=tuple(t for _, t in parts[0]),
        query_type=type_of["A"],
        middle=tuple(i for i, _ in parts[1]),
        middle_types=tuple(t for _, t in parts[1]),
        doc_type=type_of["B"],
        suffix=tuple(i for i, _ in parts[2]),
        suffix_types=tuple(t for _, t in parts[2]),
    )


def _pair_template(config: dict[str, Any], tok: Any) -> PairTemplateSpec:
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
        cls_, sep = [proc["cls"][1]], [proc["sep"][1]]
        return PairTemplateSpec(tuple(cls_), (0,), 0, tuple(sep), (0,), 1, tuple(sep), (1,))
    if kind == "RobertaProcessing":
        cls_, sep = proc["cls"][1], proc["sep"][1]
        return PairTemplateSpec((cls_,), (0,), 0, (sep, sep), (0, 0), 0, (sep,), (0,))
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


def _check_template(tok: Any, spec: PairTemplateSpec) -> None:
    """The parsed template must rebuild exactly what `tokenizers` builds for a pair."""
    query, doc = "what is a probe?", "A probe checks the pair template."
    q = tok.encode(query, add_special_tokens=False).ids
    d = tok.encode(doc, add_special_tokens=False).ids
    want = tok.encode(query, doc, add_special_tokens=True)
    ids, types = spec.apply(q, d)
    if ids != want.ids or types != want.type_ids:
        raise ValueError(
            "the pair template read from tokenizer.json does not reproduce the tokenizer's own "
            f"pair encoding (got {ids} / {types}, tokenizers gives {want.ids} / {want.type_ids})"
        )
