"""The server's settings, with the defaults ``fastrerank serve`` uses."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

__all__ = ["ServerConfig"]


@dataclass(frozen=True)
class ServerConfig:
    """Limits, queue bounds and behaviour of one server. Every field has a ``serve`` flag of
    the same name (``max_body_bytes`` -> ``--max-body-bytes``)."""

    model_name: str = "fastrerank"  # the `model` of /v1 responses when the request names none
    api_key: str | None = None  # bearer key; None: no authentication
    max_body_bytes: int = 2 * 1024 * 1024
    max_documents: int = 1000  # Cohere allows up to 10,000
    max_document_chars: int = 100_000
    max_query_chars: int = 10_000
    max_queue_pairs: int = 10_000  # (query, document) pairs waiting for the model
    max_queue_tokens: int = 2_000_000  # their tokens, all windows and special tokens included
    request_timeout: float = 60.0  # seconds from arrival; then 503
    drain_timeout: float = 30.0  # seconds SIGTERM waits for the queue to drain
    step_tokens: int | None = None  # padded tokens per engine call; None: the engine's max_batch_tokens
    v1_return_documents: bool = False  # /v1 default when the request does not say (Jina: true)
    v1_max_chunks_per_doc: int = 10  # Cohere v1's default
    tokenize_inline_chars: int = 8192  # smaller requests are tokenized on the event loop (~5 ms at most)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("model_name", "api_key", "v1_return_documents") or value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
                raise TypeError(f"{f.name} must be a number, got {value!r}")
            if value <= 0 and f.name != "tokenize_inline_chars":
                raise ValueError(f"{f.name} must be positive, got {value!r}")
        if self.api_key is not None and not self.api_key:
            raise ValueError("api_key is empty; pass None for no authentication")
