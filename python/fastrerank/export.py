"""Export a transformers sequence-classification model (a cross-encoder) to an ONNX model
directory that :class:`fastrerank.Reranker` loads. Needs the ``export`` extra (torch,
transformers, onnx).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

__all__ = ["export_onnx", "onnx_input_names"]

OPSET = 17


def onnx_input_names(config: dict[str, Any]) -> list[str]:
    """The graph inputs: token_type_ids only for models that have more than one segment type."""
    names = ["input_ids", "attention_mask"]
    if int(config.get("type_vocab_size", 0) or 0) > 1:
        names.append("token_type_ids")
    return names


def export_onnx(source: str | Path, out: str | Path, *, opset: int = OPSET) -> Path:
    """Writes ``model.onnx``, ``tokenizer.json`` and ``config.json`` for ``source`` into ``out``.

    The model is traced with eager attention (plain MatMul/Softmax nodes, which ONNX Runtime's
    transformer optimizer can fuse), with dynamic batch and sequence axes. Returns ``out``.
    """
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = AutoModelForSequenceClassification.from_pretrained(str(source), attn_implementation="eager").eval()
    config = model.config.to_dict()
    names = onnx_input_names(config)

    class LogitsOnly(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(names, args))).logits

    # Two rows, the second padded, so the trace sees a real attention mask.
    input_ids = torch.tensor([[5, 6, 7, 8, 9, 10], [5, 6, 7, 8, 0, 0]], dtype=torch.long)
    attention_mask = (input_ids != 0).long()
    attention_mask[0] = 1
    dummies = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": torch.zeros_like(input_ids)}
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["logits"] = {0: "batch"}
    with torch.no_grad():
        torch.onnx.export(
            LogitsOnly(model),
            tuple(dummies[n] for n in names),
            str(out / "model.onnx"),
            dynamo=False,
            input_names=names,
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=opset,
            do_constant_folding=True,
        )

    src = Path(source)
    same_dir = src.is_dir() and src.resolve() == out.resolve()
    if src.is_dir() and (src / "tokenizer.json").is_file():
        if not same_dir:
            shutil.copyfile(src / "tokenizer.json", out / "tokenizer.json")
    else:
        tokenizer = AutoTokenizer.from_pretrained(str(source), use_fast=True)
        if not tokenizer.is_fast:
            raise ValueError(f"{source} has no fast tokenizer (tokenizer.json); fastrerank needs one")
        tokenizer.backend_tokenizer.save(str(out / "tokenizer.json"))
    if not same_dir:
        model.config.to_json_file(str(out / "config.json"))
    return out
