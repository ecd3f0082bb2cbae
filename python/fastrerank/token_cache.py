"""A bounded cache of token ids keyed by text.

Reranking sends the same documents again and again (the candidates of a search index), and
tokenization is most of the host pipeline's time. Token ids depend only on the text, so a hit
skips the tokenizer entirely. Bounded by bytes (the text plus its int32 ids), least recently
used first out; safe to share between threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["TokenCache"]

Encoder = Callable[[list[str]], "tuple[np.ndarray, np.ndarray]"]


class TokenCache:
    """LRU of ``text -> int32 ids``, at most ``max_bytes`` (0 disables it). Texts longer than
    ``max_text_chars`` are never cached: they are rare and would evict many short ones."""

    def __init__(self, max_bytes: int = 64 << 20, max_text_chars: int = 100_000) -> None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int):
            raise TypeError(f"token_cache_bytes must be an int (bytes; 0 turns the cache off), got {type(max_bytes).__name__}")
        if max_bytes < 0:
            raise ValueError(f"token_cache_bytes must be at least 0 (0 turns the cache off), got {max_bytes}")
        self.max_bytes = max_bytes
        self.max_text_chars = max_text_chars
        self._entries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        """Bytes held now (texts as characters plus 4 bytes per token id)."""
        return self._bytes

    def clear(self) -> None:
        """Drops every entry."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def encode_ragged(self, texts: Sequence[str], encode: Encoder) -> tuple[np.ndarray, np.ndarray]:
        """Token ids of ``texts`` as (flat int32, int64 offsets); only the texts not cached go
        through ``encode`` (one batch call), and they are cached for next time."""
        if self.max_bytes == 0:
            return encode(list(texts))
        entries = self._entries
        with self._lock:
            found: list[np.ndarray | None] = list(map(entries.get, texts))
            touch = entries.move_to_end
            for t, ids in zip(texts, found):
                if ids is not None:
                    touch(t)
            missing = [i for i, ids in enumerate(found) if ids is None]
            self.hits += len(texts) - len(missing)
            self.misses += len(missing)
        if missing:
            missed = [texts[i] for i in missing]
            flat, offsets = encode(missed)
            bounds = offsets.tolist()
            self._store(missed, flat, bounds)
            if len(missing) == len(texts):  # nothing was cached: the encoder's arrays are the answer
                return flat.astype(np.int32, copy=False), offsets
            for k, i in enumerate(missing):
                found[i] = flat[bounds[k] : bounds[k + 1]]
        lengths = np.fromiter(map(len, found), dtype=np.int64, count=len(found))  # type: ignore[arg-type]
        offsets_out = np.zeros(len(found) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets_out[1:])
        flat_out = np.concatenate(found) if found else np.zeros(0, dtype=np.int32)  # type: ignore[arg-type]
        return flat_out.astype(np.int32, copy=False), offsets_out

    def _store(self, texts: list[str], flat: np.ndarray, bounds: list[int]) -> None:
        """Caches text k's ids ``flat[bounds[k]:bounds[k + 1]]`` (a copy: the batch's array
        must not stay alive for one entry) unless the text is too long or the entry too big."""
        fresh = [
            (t, flat[bounds[k] : bounds[k + 1]].copy())
            for k, t in enumerate(texts)
            if len(t) <= self.max_text_chars and len(t) + 4 * (bounds[k + 1] - bounds[k]) <= self.max_bytes
        ]
        with self._lock:
            for t, x in fresh:
                if t in self._entries:
                    continue
                self._entries[t] = x
                self._bytes += len(t) + 4 * len(x)
            while self._bytes > self.max_bytes:
                t, x = self._entries.popitem(last=False)
                self._bytes -= len(t) + 4 * len(x)
