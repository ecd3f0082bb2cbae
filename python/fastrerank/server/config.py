"""The server's settings: each one's default, its ``serve`` flag's help and its bounds in one
place (``fastrerank serve`` makes a flag of every field with help)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["ServerConfig"]


def _option(default: Any, help: str, *, zero: bool = False) -> Any:
    """A numeric setting with a ``serve`` flag; positive, or >= 0 with ``zero``."""
    return field(default=default, metadata={"help": help, "zero": zero})


@dataclass(frozen=True)
class ServerConfig:
    """Limits, queue bounds and behaviour of one server. Every numeric field has a ``serve``
    flag of the same name (``max_body_bytes`` -> ``--max-body-bytes``)."""

    model_name: str = "fastrerank"  # the `model` of /v1 responses when the request names none
    api_key: str | None = None  # bearer key; None: no authentication
    v1_return_documents: bool = False  # /v1 default when the request does not say (Jina: true)
    max_body_bytes: int = _option(2 * 1024 * 1024, "largest request body in bytes (default: %(default)s); larger: 413")
    max_documents: int = _option(1000, "most documents per request (default: %(default)s; Cohere allows up to 10000)")
    max_document_chars: int = _option(100_000, "most characters per document (default: %(default)s)")
    max_query_chars: int = _option(10_000, "most characters per query (default: %(default)s)")
    max_queue_pairs: int = _option(10_000, "most (query, document) pairs waiting for the model (default: %(default)s); beyond: 429")
    max_queue_tokens: int = _option(
        2_000_000, "most tokens (all windows, special tokens included) waiting for the model (default: %(default)s); beyond: 429"
    )
    request_timeout: float = _option(
        60.0, "seconds a request may take from arrival (default: %(default)s); work that cannot finish in time is refused at once"
    )
    drain_timeout: float = _option(30.0, "seconds SIGTERM waits for the queue to drain (default: %(default)s); then 503 to the rest")
    min_drain_time: float = _option(
        5.0,
        "seconds the drain lasts at least, answering 503, before the listener closes, so a load balancer sees it "
        "(default: %(default)s; at most --drain-timeout)",
        zero=True,
    )
    step_tokens: int | None = _option(
        None,
        "padded tokens (rows x longest row) the batcher gathers from the waiting requests per step; "
        "the engine cuts a step into model calls of --max-batch-tokens (default: the engine's max_batch_tokens)",
    )
    v1_max_chunks_per_doc: int = _option(10, "/v1/rerank's max_chunks_per_doc when the request has none (default: %(default)s, Cohere's)")
    tokenize_inline_chars: int = _option(
        8192,
        "requests up to this many characters (bodies: bytes) are decoded, checked and tokenized on the event loop, "
        "larger ones on a thread (default: %(default)s)",
        zero=True,
    )
    tokenizer_threads: int = _option(2, "threads that tokenize the requests too large to tokenize on the event loop (default: %(default)s)")
    backlog: int = _option(2048, "connections the listening socket queues before accepting them (default: %(default)s)")
    max_connections: int = _option(
        1000, "open connections at most (keep it below `ulimit -n`); a connection beyond is answered 503 and closed (default: %(default)s)"
    )
    max_header_bytes: int = _option(16384, "largest request head (request line and headers) in bytes (default: %(default)s); larger: 431")
    header_timeout: float = _option(
        10.0, "seconds a connection has to send a complete request head once it opens or starts one (default: %(default)s); then 408"
    )
    body_timeout: float = _option(30.0, "seconds a request's body has to arrive once its head is in (default: %(default)s); then 408")

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if "help" not in f.metadata or value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
                raise TypeError(f"{f.name} must be a number, got {value!r}")
            if value < 0 or (value == 0 and not f.metadata["zero"]):
                raise ValueError(f"{f.name} must be {'at least 0' if f.metadata['zero'] else 'positive'}, got {value!r}")
        if self.min_drain_time > self.drain_timeout:
            raise ValueError(f"min_drain_time ({self.min_drain_time:g}) must be at most drain_timeout ({self.drain_timeout:g})")
        if self.api_key is not None:
            # HTTP trims a header value, so surrounding whitespace could never be sent: it is not the key
            key = self.api_key.strip()
            if not key:
                raise ValueError("api_key is empty (or only whitespace); pass a key, or None to serve without authentication")
            if not all(" " <= c <= "~" for c in key):
                raise ValueError("api_key must be printable ASCII (a header cannot carry other characters)")
            object.__setattr__(self, "api_key", key)

    @classmethod
    def options(cls) -> list[tuple[str, type, Any, str]]:
        """(field name, type, default, help) of every setting that has a flag."""
        out: list[tuple[str, type, Any, str]] = []
        for f in fields(cls):
            if "help" in f.metadata:
                kind = float if isinstance(f.default, float) else int
                out.append((f.name, kind, f.default, f.metadata["help"]))
        return out
