"""The reference scores: the transformers model on torch, one pair at a time.

Windows come from `tokenizers` itself (Encoding.truncate with its overflowing parts, then the
tokenizer's own post-processor), sized by the plain statement of the rule in reference.py, so
nothing here shares code with fastrerank.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import AutoModelForSequenceClassification

import reference


class Reference:
    def __init__(self, model_dir: Path) -> None:
        self.model = AutoModelForSequenceClassification.from_pretrained(str(model_dir)).eval()
        self.tok = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
        self.tok.no_truncation()
        self.tok.no_padding()
        self.types = getattr(self.model.config, "type_vocab_size", 1) > 1
        self.specials = self.tok.post_processor.num_special_tokens_to_add(True)

    def _normalise(self, logits: torch.Tensor, how: str) -> np.ndarray:
        if how == "auto":
            how = "sigmoid" if logits.shape[-1] == 1 else "softmax"
        if how == "sigmoid":
            return torch.sigmoid(logits[..., -1]).numpy()
        if how == "softmax":
            return torch.softmax(logits, dim=-1)[..., 1].numpy()
        return logits[..., -1].numpy()

    def _run(self, ids: list[int], types: list[int], how: str) -> float:
        feeds = {"input_ids": torch.tensor([ids]), "attention_mask": torch.ones(1, len(ids), dtype=torch.long)}
        if self.types:
            feeds["token_type_ids"] = torch.tensor([types])
        with torch.no_grad():
            return float(self._normalise(self.model(**feeds).logits, how)[0])

    def windows(self, query: str, doc: str, max_length: int, max_tokens_per_doc: int = 4096) -> list[tuple[list[int], list[int]]]:
        q = self.tok.encode(query, add_special_tokens=False)
        q.truncate(reference.query_limit(self.specials, max_length))
        d = self.tok.encode(doc, add_special_tokens=False)
        d.truncate(max_tokens_per_doc)
        window = reference.doc_window(self.specials, max_length, len(q.ids))
        if len(d.ids) > window:
            d.truncate(window)  # replaces `overflowing` with the windows after the first
            parts = [d, *d.overflowing]
        else:
            parts = [d]  # (overflowing still holds what max_tokens_per_doc cut off)
        out = []
        for w in parts:
            pair = self.tok.post_process(q, w, add_special_tokens=True)
            out.append((pair.ids, pair.type_ids))
        return out

    def score(self, query: str, doc: str, max_length: int, max_tokens_per_doc: int = 4096, how: str = "auto") -> float:
        """The best window's score, each window run alone."""
        return max(self._run(ids, types, how) for ids, types in self.windows(query, doc, max_length, max_tokens_per_doc))

    def scores(self, query: str, docs: list[str], max_length: int, max_tokens_per_doc: int = 4096, how: str = "auto") -> np.ndarray:
        return np.array([self.score(query, d, max_length, max_tokens_per_doc, how) for d in docs])


def assert_same_ranking(indices: list[int], reference: np.ndarray, tie: float = 1e-5) -> None:
    """The ranking is the reference's: descending score, ties by lower index. Documents whose
    reference scores are within `tie` of each other may come in either order."""
    ranked = reference[np.asarray(indices)]
    for a in range(len(indices) - 1):
        assert ranked[a] >= ranked[a + 1] - tie, f"position {a}: {indices[a]} ({ranked[a]}) before {indices[a + 1]} ({ranked[a + 1]})"
    assert sorted(indices) == list(range(len(reference)))
