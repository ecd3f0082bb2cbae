"""Tiny random cross-encoders built at test time: BERT (WordPiece) with 1 or 2 logits, and
XLM-R (Unigram) with a tokenizer trained here. Each directory is both a transformers model
(config.json, model.safetensors, tokenizer files) and a fastrerank model (model.onnx).

    python models/tiny_models.py OUT_DIR     # builds OUT_DIR/{bert-1,bert-2,xlmr}
"""

from __future__ import annotations

import sys
from pathlib import Path

CORPUS = [
    "The quick brown fox jumps over the lazy dog near the riverbank.",
    "Washington, D.C. is the capital of the United States of America.",
    "Carson City is the capital city of the American state of Nevada.",
    "Capital punishment has existed in the United States since before it was a country.",
    "Hello, I have a question about the return policy for this product.",
    "Rerankers score a query and a document together with a cross-encoder.",
    "Le renard brun rapide saute par-dessus le chien paresseux. Ça va très bien, merci!",
    "Der schnelle braune Fuchs springt über den faulen Hund. Straße, Größe, Übermaß.",
    "東京は日本の首都です。大阪は大きな都市です。",
    "Москва — столица России. Санкт-Петербург — культурная столица.",
    "القاهرة هي عاصمة مصر. الرياض عاصمة المملكة العربية السعودية.",
    "emoji: 😀 🚀 🇫🇷 👩‍💻 — and symbols: © ® ™ € £ ¥ § ¶ • …",
    "Numbers 1234567890, dates 2026-11-23, prices $19.99 and 42% off!!!",
    "Search engines rank documents by relevance to the user's query terms.",
    "ONNX Runtime runs transformer models on CPUs and GPUs with fused kernels.",
    "Tokenizers split text into word pieces: un ##believ ##able, re ##rank ##ing.",
]


def _corpus(repeat: int = 20) -> list[str]:
    return [f"{line} {i}" for i in range(repeat) for line in CORPUS]


def _save_bert_tokenizer(out: Path, vocab_size: int = 600) -> int:
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertTokenizerFast

    tok = BertWordPieceTokenizer(lowercase=True, strip_accents=None, clean_text=True, handle_chinese_chars=True)
    tok.train_from_iterator(
        _corpus(), vocab_size=vocab_size, min_frequency=1, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    )
    tok.save(str(out / "tokenizer.json"))
    BertTokenizerFast(tokenizer_file=str(out / "tokenizer.json")).save_pretrained(str(out))
    return tok.get_vocab_size()


def _save_xlmr_tokenizer(out: Path, vocab_size: int = 400) -> int:
    from tokenizers import SentencePieceUnigramTokenizer
    from tokenizers.processors import RobertaProcessing
    from transformers import XLMRobertaTokenizerFast

    tok = SentencePieceUnigramTokenizer()
    tok.train_from_iterator(_corpus(), vocab_size=vocab_size, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"], unk_token="<unk>")
    tok.post_processor = RobertaProcessing(("</s>", 2), ("<s>", 0))
    tok.save(str(out / "tokenizer.json"))
    XLMRobertaTokenizerFast(tokenizer_file=str(out / "tokenizer.json")).save_pretrained(str(out))
    return tok.get_vocab_size()


def _spread_head(model, seed: int) -> None:
    """A random head with logits of order 1, so scores spread over (0, 1) instead of ~0.5."""
    import torch

    g = torch.Generator().manual_seed(seed)
    for p in model.classifier.parameters():
        p.data = torch.randn(p.shape, generator=g) * 0.5


# The shape of every tiny model: 2 layers, 32 wide (a model builds in seconds, runs in microseconds).
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)


def build_bert(out: Path, *, num_labels: int = 1, seed: int = 0) -> Path:
    """A 2-layer, 32-wide BertForSequenceClassification with a trained WordPiece vocabulary."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from fastrerank.export import export_onnx

    out.mkdir(parents=True, exist_ok=True)
    vocab = _save_bert_tokenizer(out)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=vocab,
        **TINY,
        max_position_embeddings=128,
        num_labels=num_labels,
        pad_token_id=0,
        initializer_range=0.5,  # input-sensitive outputs, so scores spread
    )
    model = BertForSequenceClassification(config).eval()
    _spread_head(model, seed)
    model.save_pretrained(str(out))
    export_onnx(out, out)
    return out


def build_xlmr(out: Path, *, seed: int = 0) -> Path:
    """A 2-layer, 32-wide XLMRobertaForSequenceClassification (1 logit) with a Unigram vocabulary."""
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

    from fastrerank.export import export_onnx

    out.mkdir(parents=True, exist_ok=True)
    vocab = _save_xlmr_tokenizer(out)
    torch.manual_seed(seed)
    config = XLMRobertaConfig(
        vocab_size=vocab,
        **TINY,
        max_position_embeddings=66,  # a window of 64 tokens: long documents get several
        type_vocab_size=1,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        num_labels=1,
        initializer_range=0.5,
    )
    model = XLMRobertaForSequenceClassification(config).eval()
    _spread_head(model, seed)
    model.save_pretrained(str(out))
    export_onnx(out, out)
    return out


def build_all(root: Path) -> dict[str, Path]:
    """All tiny models under ``root``: bert-1, bert-2, xlmr."""
    return {
        "bert-1": build_bert(root / "bert-1", num_labels=1, seed=1),
        "bert-2": build_bert(root / "bert-2", num_labels=2, seed=2),
        "xlmr": build_xlmr(root / "xlmr", seed=3),
    }


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python models/tiny_models.py OUT_DIR")
    for name, path in build_all(Path(sys.argv[1])).items():
        print(name, path)
