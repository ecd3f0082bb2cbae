"""Tiny random cross-encoders built at test time, one per architecture the registry names
that can be built here: BERT (WordPiece) with 1 or 2 logits, XLM-R (Unigram), ModernBERT
(byte-level BPE) and DeBERTa-v2 (Unigram), with tokenizers trained here. Each directory is both
a transformers model (config.json, model.safetensors, tokenizer files) and a fastrerank model
(model.onnx).

    python models/tiny_models.py OUT_DIR     # builds OUT_DIR/{bert-1,bert-2,xlmr,modernbert,deberta}
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
        _corpus(),
        vocab_size=vocab_size,
        min_frequency=1,
        special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
        show_progress=False,
    )
    tok.save(str(out / "tokenizer.json"))
    BertTokenizerFast(tokenizer_file=str(out / "tokenizer.json")).save_pretrained(str(out))
    return tok.get_vocab_size()


def _save_xlmr_tokenizer(out: Path, vocab_size: int = 400) -> int:
    from tokenizers import SentencePieceUnigramTokenizer
    from tokenizers.processors import RobertaProcessing
    from transformers import XLMRobertaTokenizerFast

    tok = SentencePieceUnigramTokenizer()
    tok.train_from_iterator(
        _corpus(), vocab_size=vocab_size, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"], unk_token="<unk>", show_progress=False
    )
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


def _save_and_export(model, out: Path, seed: int) -> Path:
    """Gives ``model`` a spread head, saves it to ``out`` and exports ``out/model.onnx``."""
    from fastrerank.export import export_onnx

    _spread_head(model, seed)
    model.save_pretrained(str(out))
    export_onnx(out, out)
    return out


# The shape of every tiny model: 2 layers, 32 wide (a model builds in seconds, runs in microseconds).
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)


def build_bert(out: Path, *, num_labels: int = 1, seed: int = 0) -> Path:
    """A 2-layer, 32-wide BertForSequenceClassification with a trained WordPiece vocabulary."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

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
    return _save_and_export(BertForSequenceClassification(config).eval(), out, seed)


def build_xlmr(out: Path, *, seed: int = 0) -> Path:
    """A 2-layer, 32-wide XLMRobertaForSequenceClassification (1 logit) with a Unigram vocabulary."""
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

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
    return _save_and_export(XLMRobertaForSequenceClassification(config).eval(), out, seed)


def _save_modernbert_tokenizer(out: Path, vocab_size: int = 500) -> dict[str, int]:
    """ModernBERT's tokenizer shape (answerdotai/ModernBERT-base): NFC, byte-level BPE, the
    special tokens after the vocabulary with its flags, "[CLS] A [SEP] B [SEP]" with every type
    id 0. Returns the special token ids."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from tokenizers.processors import TemplateProcessing
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=["<|padding|>"],
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    tok.add_special_tokens(
        [
            AddedToken("[UNK]", single_word=True, lstrip=True, rstrip=True, normalized=True, special=True),
            AddedToken("[CLS]", normalized=False, special=True),
            AddedToken("[SEP]", normalized=False, special=True),
            AddedToken("[PAD]", single_word=True, lstrip=True, rstrip=True, normalized=True, special=True),
            AddedToken("[MASK]", lstrip=True, normalized=False, special=True),
        ]
    )
    ids = {t: tok.token_to_id(t) for t in ("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]")}
    tok.post_processor = TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:0 [SEP]:0", special_tokens=[(t, ids[t]) for t in ("[CLS]", "[SEP]")]
    )
    tok.enable_padding(pad_id=ids["[PAD]"], pad_token="[PAD]")  # the real file has a padding block
    special = dict(cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]", mask_token="[MASK]", unk_token="[UNK]")
    tok.save(str(out / "tokenizer.json"))
    hf = PreTrainedTokenizerFast(tokenizer_file=str(out / "tokenizer.json"), model_input_names=["input_ids", "attention_mask"], **special)
    hf.save_pretrained(str(out))
    tok.save(str(out / "tokenizer.json"))  # as `tokenizers` writes it, not as save_pretrained rewrites it
    return ids


def build_modernbert(out: Path, *, seed: int = 4) -> Path:
    """A 4-layer, 32-wide ModernBertForSequenceClassification (1 logit, mean pooling as
    gte-reranker-modernbert-base): layers global, sliding, sliding, global, with a 16-token local
    window so the sliding layers matter at test lengths."""
    import torch
    from transformers import ModernBertConfig, ModernBertForSequenceClassification

    out.mkdir(parents=True, exist_ok=True)
    ids = _save_modernbert_tokenizer(out)
    torch.manual_seed(seed)
    config = ModernBertConfig(
        vocab_size=max(ids.values()) + 1,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=4,
        num_attention_heads=2,
        max_position_embeddings=128,
        global_attn_every_n_layers=3,
        local_attention=16,
        pad_token_id=ids["[PAD]"],
        bos_token_id=ids["[CLS]"],
        eos_token_id=ids["[SEP]"],
        cls_token_id=ids["[CLS]"],
        sep_token_id=ids["[SEP]"],
        classifier_pooling="mean",
        num_labels=1,
        initializer_range=0.5,
    )
    return _save_and_export(ModernBertForSequenceClassification(config).eval(), out, seed)


def build_deberta(out: Path, *, seed: int = 5) -> Path:
    """A 2-layer, 32-wide DebertaV2ForSequenceClassification (1 logit) shaped like
    mxbai-rerank: relative attention (c2p and p2c, shared keys, log buckets beyond 8 tokens), no
    absolute positions, no token types; a Unigram vocabulary with "[CLS] A [SEP] B [SEP]"."""
    import torch
    from tokenizers import SentencePieceUnigramTokenizer
    from tokenizers.processors import TemplateProcessing
    from transformers import DebertaV2Config, DebertaV2ForSequenceClassification, PreTrainedTokenizerFast

    out.mkdir(parents=True, exist_ok=True)
    tok = SentencePieceUnigramTokenizer()
    tok.train_from_iterator(
        _corpus(), vocab_size=400, special_tokens=["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"], unk_token="[UNK]", show_progress=False
    )
    tok.post_processor = TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1", special_tokens=[("[CLS]", 1), ("[SEP]", 2)]
    )
    tok.save(str(out / "tokenizer.json"))
    special = dict(cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]", mask_token="[MASK]", unk_token="[UNK]")
    PreTrainedTokenizerFast(tokenizer_file=str(out / "tokenizer.json"), **special).save_pretrained(str(out))
    tok.save(str(out / "tokenizer.json"))
    torch.manual_seed(seed)
    config = DebertaV2Config(
        vocab_size=tok.get_vocab_size(),
        **TINY,
        max_position_embeddings=128,
        type_vocab_size=0,
        position_biased_input=False,
        relative_attention=True,
        pos_att_type=["p2c", "c2p"],
        position_buckets=16,
        max_relative_positions=-1,
        norm_rel_ebd="layer_norm",
        share_att_key=True,
        pad_token_id=0,
        num_labels=1,
        initializer_range=0.5,
    )
    return _save_and_export(DebertaV2ForSequenceClassification(config).eval(), out, seed)


def build_all(root: Path) -> dict[str, Path]:
    """All tiny models under ``root``: bert-1, bert-2, xlmr, modernbert, deberta."""
    return {
        "bert-1": build_bert(root / "bert-1", num_labels=1, seed=1),
        "bert-2": build_bert(root / "bert-2", num_labels=2, seed=2),
        "xlmr": build_xlmr(root / "xlmr", seed=3),
        "modernbert": build_modernbert(root / "modernbert", seed=4),
        "deberta": build_deberta(root / "deberta", seed=5),
    }


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python models/tiny_models.py OUT_DIR")
    for name, path in build_all(Path(sys.argv[1])).items():
        print(name, path)
