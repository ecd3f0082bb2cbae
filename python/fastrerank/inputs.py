"""Checking a rerank request and turning its documents into the texts the model reads.

Every check raises TypeError (wrong kind of value) or ValueError (right kind, bad value) with a
message that names the argument, says what was wrong and what to pass instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

__all__ = [
    "MAX_RANK_FIELDS",
    "NORMALIZE",
    "TRUNCATION_SIDES",
    "TextTooLong",
    "check_flag",
    "check_max_spans",
    "check_max_tokens_per_doc",
    "check_max_windows_per_doc",
    "check_normalize",
    "check_pair",
    "check_pairs",
    "check_query",
    "check_rank_fields",
    "check_span_tokens",
    "check_top_n",
    "check_truncation_side",
    "document_texts",
    "returned_document",
]

NORMALIZE = ("auto", "sigmoid", "softmax", "none")
TRUNCATION_SIDES = ("right", "left")
# A structured document is ranked on a few fields that say what it is about. Each field named is
# rendered once per document (repeats are refused), so the count bounds what rank_fields can make
# a request's text grow by: 3 characters per field and document besides the fields' own text.
MAX_RANK_FIELDS = 100


class TextTooLong(ValueError):
    """A document whose text, as the model would read it, is longer than the caller's
    ``max_chars``; for a dict, raised before its text is built."""

    def __init__(self, index: int, length: int, limit: int) -> None:
        super().__init__(f"documents[{index}] has {length} characters, at most {limit}")
        self.index, self.length, self.limit = index, length, limit


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_query(query: Any) -> str:
    """The query must be a non-empty string."""
    if not isinstance(query, str):
        raise TypeError(f"query must be a str, got {_kind(query)}")
    if not query.strip():
        raise ValueError("query is empty (or only whitespace); pass the text to rank the documents against")
    return query


def check_top_n(top_n: Any) -> int:
    """None (all results) or a positive int; returns -1 for all."""
    if top_n is None:
        return -1
    if not _is_int(top_n):
        raise TypeError(f"top_n must be a positive int or None (all results), got {_kind(top_n)}")
    if top_n < 1:
        raise ValueError(f"top_n must be at least 1 (or None for all results), got {top_n}")
    return int(top_n)


def check_max_tokens_per_doc(max_tokens_per_doc: Any) -> int:
    """A positive int: the tokens of a document that are ranked."""
    if not _is_int(max_tokens_per_doc):
        raise TypeError(f"max_tokens_per_doc must be a positive int, got {_kind(max_tokens_per_doc)}")
    if max_tokens_per_doc < 1:
        raise ValueError(f"max_tokens_per_doc must be at least 1, got {max_tokens_per_doc}")
    return int(max_tokens_per_doc)


def check_max_windows_per_doc(max_windows_per_doc: Any) -> int | None:
    """None (every window) or a positive int: the windows of a document that are scored."""
    if max_windows_per_doc is None:
        return None
    if not _is_int(max_windows_per_doc):
        raise TypeError(f"max_windows_per_doc must be a positive int or None (every window), got {_kind(max_windows_per_doc)}")
    if max_windows_per_doc < 1:
        raise ValueError(f"max_windows_per_doc must be at least 1 (or None for every window), got {max_windows_per_doc}")
    return int(max_windows_per_doc)


def check_max_spans(max_spans: Any) -> int:
    """0 (no spans, the default) or a positive int: the spans each returned document gets."""
    if not _is_int(max_spans):
        raise TypeError(f"max_spans must be an int (0 for no spans), got {_kind(max_spans)}")
    if max_spans < 0:
        raise ValueError(f"max_spans must be 0 (no spans) or more, got {max_spans}")
    return int(max_spans)


def check_span_tokens(span_tokens: Any) -> int:
    """A positive int: the most tokens of one span's segment."""
    if not _is_int(span_tokens):
        raise TypeError(f"span_tokens must be a positive int (tokens per span), got {_kind(span_tokens)}")
    if span_tokens < 1:
        raise ValueError(f"span_tokens must be at least 1 (tokens per span), got {span_tokens}")
    return int(span_tokens)


def check_truncation_side(truncation_side: Any) -> str:
    """'right' (cut a long document's end, keep its start) or 'left' (keep its end)."""
    if not isinstance(truncation_side, str):
        raise TypeError(f"truncation_side must be 'right' or 'left', got {_kind(truncation_side)}")
    side = truncation_side.lower()
    if side not in TRUNCATION_SIDES:
        raise ValueError(
            f"truncation_side must be 'right' (keep a long document's start) or 'left' (keep its end), got {_shown(truncation_side)}"
        )
    return side


def check_normalize(normalize: Any) -> str:
    """One of NORMALIZE: how logits become scores."""
    if normalize not in NORMALIZE:
        raise ValueError(f"normalize must be one of {', '.join(map(repr, NORMALIZE))}, got {_shown(normalize)}")
    return str(normalize)


def check_pairs(pairs: Any) -> Iterator[Any]:
    """``pairs`` of score_pairs: any iterable of (query, document) pairs, a generator included;
    returns an iterator over it (each pair is checked by :func:`check_pair` as it is read)."""
    if pairs is None or isinstance(pairs, (str, bytes, Mapping)) or not isinstance(pairs, Iterable):
        raise TypeError(f"pairs must be an iterable of (query, document) pairs, got {_kind(pairs)}; e.g. [(query, document), ...]")
    return iter(pairs)


def check_pair(pair: Any, i: int) -> tuple[str, str]:
    """``pairs[i]`` of score_pairs: a tuple or list of two strings, the query not empty (the
    document may be)."""
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise TypeError(f"pairs[{i}] must be a (query, document) pair of strings, got {_kind(pair)}")
    query, document = pair
    try:
        query = check_query(query)
    except (TypeError, ValueError) as e:
        raise type(e)(f"pairs[{i}]: {e}") from e
    if type(document) is not str:
        if not isinstance(document, str):
            raise TypeError(f"pairs[{i}]: the document must be a str (use '' for an empty one), got {_kind(document)}")
        document = str(document)
    return str(query), document


def check_flag(value: Any, name: str) -> bool:
    """A bool option such as ``return_documents``."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {_kind(value)}")
    return value


def check_rank_fields(rank_fields: Any) -> list[str] | None:
    """``rank_fields`` as a list of field names (None stays None); TypeError/ValueError naming it."""
    if rank_fields is None:
        return None
    if isinstance(rank_fields, (str, bytes)) or not isinstance(rank_fields, Sequence):
        raise TypeError(f"rank_fields must be a list of field names, got {_kind(rank_fields)}")
    if not rank_fields:
        raise ValueError("rank_fields is empty; name the fields to rank on, or pass None to use 'text'")
    if len(rank_fields) > MAX_RANK_FIELDS:
        raise ValueError(f"rank_fields names {len(rank_fields)} fields, at most {MAX_RANK_FIELDS}; name the few fields to rank on")
    seen: set[str] = set()
    for i, name in enumerate(rank_fields):
        if not isinstance(name, str):
            raise TypeError(f"rank_fields[{i}] must be a str, got {_kind(name)}")
        if name in seen:
            raise ValueError(f"rank_fields names {_shown(name)} twice (again at rank_fields[{i}]); name each field once")
        seen.add(name)
    return list(rank_fields)


def _field_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, (bool, int, float)):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _dict_text(doc: Mapping[str, Any], i: int, rank_fields: list[str] | None, max_chars: int | None) -> str:
    if rank_fields is None:
        if "text" not in doc:
            raise ValueError(
                f"documents[{i}] is a dict without a 'text' field (keys: {_names(sorted(map(str, doc)))}); "
                "add 'text', or pass rank_fields=[...] to choose the fields to rank on"
            )
        text = doc["text"]
        if not isinstance(text, str):
            raise TypeError(f"documents[{i}]['text'] must be a str, got {_kind(text)}")
        return _at_most(text, i, max_chars)
    missing = [f for f in rank_fields if f not in doc]
    if missing:
        keys = _names(sorted(map(str, doc)))
        raise ValueError(f"rank_fields names {_names(missing)} but documents[{i}] has no such field (keys: {keys})")
    # YAML-style `key: value` lines, the format Cohere recommends for structured documents; their
    # length is known from the values before the text is built.
    values = [_field_text(doc[f]) for f in rank_fields]
    length = sum(map(len, rank_fields)) + sum(map(len, values)) + 3 * len(values) - 1
    if max_chars is not None and length > max_chars:
        raise TextTooLong(i, length, max_chars)
    return "\n".join(f"{f}: {v}" for f, v in zip(rank_fields, values))


def _at_most(text: str, i: int, max_chars: int | None) -> str:
    if max_chars is not None and len(text) > max_chars:
        raise TextTooLong(i, len(text), max_chars)
    return text


def document_texts(documents: Any, rank_fields: Any = None, *, max_chars: int | None = None) -> list[str]:
    """The text the model reads for each document.

    Strings are used as they are. Dicts (Cohere v1) give their ``rank_fields`` in that order as
    ``key: value`` lines, or their ``text`` field when ``rank_fields`` is None. Each field is
    rendered once (``rank_fields`` holds no repeats), so the texts grow with the documents, never
    faster. With ``max_chars``, a document whose text would be longer raises :class:`TextTooLong`
    (a dict's before its text is built).
    """
    if documents is None:
        raise TypeError("documents must be a list of strings (or of dicts, with rank_fields), got None")
    if isinstance(documents, (str, bytes)):
        raise TypeError(f"documents must be a list of strings, got a single {type(documents).__name__}; wrap it: [text]")
    if isinstance(documents, Mapping) or not isinstance(documents, Sequence):
        raise TypeError(f"documents must be a list of strings (or of dicts, with rank_fields), got {_kind(documents)}")
    fields = check_rank_fields(rank_fields)
    if all(type(d) is str for d in documents):  # the common case, checked at C speed
        if max_chars is not None and documents and max(map(len, documents)) > max_chars:
            i = next(i for i, d in enumerate(documents) if len(d) > max_chars)
            raise TextTooLong(i, len(documents[i]), max_chars)
        return list(documents)
    texts: list[str] = []
    for i, doc in enumerate(documents):
        if type(doc) is str:
            texts.append(_at_most(doc, i, max_chars))
        elif isinstance(doc, Mapping):
            texts.append(_dict_text(doc, i, fields, max_chars))
        elif isinstance(doc, str):
            texts.append(_at_most(str(doc), i, max_chars))
        elif doc is None:
            raise TypeError(f"documents[{i}] is None; every document must be a string (use '' for an empty one)")
        else:
            raise TypeError(f"documents[{i}] must be a str (or a dict), got {_kind(doc)}")
    return texts


def returned_document(doc: Any) -> dict[str, Any]:
    """What ``return_documents=True`` puts in a result: ``{"text": ...}`` for a string, the
    document itself for a dict (Cohere v1)."""
    return {"text": doc} if isinstance(doc, str) else dict(doc)


def _kind(value: Any) -> str:
    if value is None:
        return "None"
    return f"{type(value).__name__} {_shown(value)}"


def _shown(value: Any) -> str:
    """``repr(value)``, cut to 40 characters: a message never repeats a large input."""
    text = repr(value)
    return text[:40] + "..." if len(text) > 40 else text


def _names(names: Sequence[Any], most: int = 10) -> str:
    """The first ``most`` of ``names`` as a list, each cut as by :func:`_shown`."""
    shown = ", ".join(_shown(n) for n in names[:most])
    return f"[{shown}, ... {len(names) - most} more]" if len(names) > most else f"[{shown}]"
