"""The engine around the model: threads, asyncio, devices, the pair template, imports."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from fastrerank import DeviceNotAvailableError, Reranker, _core, tokenization
from fastrerank.engine import DocumentLimits

import gil
import texts


@pytest.fixture(scope="module")
def rr(tiny_models):
    return Reranker(tiny_models["bert-1"])


def ranking(resp):
    return [(r.index, r.relevance_score) for r in resp.results]


def test_one_reranker_shared_by_threads(rr):
    jobs = [(q, texts.DOCUMENTS[i:] + [texts.LONG_DOCUMENT]) for q in texts.QUERIES for i in range(0, 12, 3)]
    sequential = [ranking(rr.rerank(q, d)) for q, d in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda job: ranking(rr.rerank(*job)), jobs * 3))
    assert parallel == sequential * 3


def test_core_releases_the_gil_while_filling_a_batch():
    tpl = _core.PairTemplate(
        prefix=[1], prefix_types=[0], query_type=0, middle=[2], middle_types=[0], doc_type=1, suffix=[2], suffix_types=[1]
    )
    n_docs = 200_000  # one ~0.3 s batch
    ids = np.full(n_docs * 60, 7, dtype=np.int32)
    offsets = np.arange(0, n_docs * 60 + 1, 60, dtype=np.int64)
    packed = _core.pack(
        np.array([5, 6], np.int32), ids, offsets, tpl, max_length=128, max_tokens_per_doc=4096, max_batch_tokens=1 << 40, pad_id=0
    )
    took, longest_stall = gil.stall_during(lambda: packed.batch(0))
    assert took > 0.05, "the batch filled too fast to tell"
    assert longest_stall < 0.5 * took, f"main thread stalled {longest_stall:.3f}s of a {took:.3f}s fill"


def test_arerank_does_not_block_the_event_loop(rr):
    docs = [texts.LONG_DOCUMENT] * 20

    async def main():
        ticks = 0
        stop = False

        async def ticker():
            nonlocal ticks
            while not stop:
                ticks += 1
                await asyncio.sleep(0.001)

        task = asyncio.create_task(ticker())
        resp = await rr.arerank(texts.QUERIES[0], docs, top_n=3)
        stop = True
        await task
        return resp, ticks

    resp, ticks = asyncio.run(main())
    assert len(resp.results) == 3
    assert ticks > 5
    assert ranking(resp) == ranking(rr.rerank(texts.QUERIES[0], docs, top_n=3))


def test_cuda_request_fails_clearly_without_cuda(tiny_models):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this machine has CUDA")
    with pytest.raises(DeviceNotAvailableError, match=r"needs onnxruntime-gpu, but what is installed here is onnxruntime \d") as e:
        Reranker(tiny_models["bert-1"], device="cuda")
    assert "pip install fastrerank-gpu" in str(e.value)
    with pytest.raises(DeviceNotAvailableError):
        Reranker(tiny_models["bert-1"], device="cuda:1")
    assert Reranker(tiny_models["bert-1"], device="auto").device == "cpu"


def test_cuda_provider_listed_but_not_attached_fails_clearly(tiny_models, monkeypatch):
    """onnxruntime-gpu without the CUDA/cuDNN libraries lists the provider, then runs on the
    CPU: asking for CUDA must still fail, and "auto" must say it ended up on the CPU."""
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this machine has CUDA")
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    with pytest.raises(DeviceNotAvailableError, match="did not attach"):
        Reranker(tiny_models["bert-1"], device="cuda")
    rr = Reranker(tiny_models["bert-1"], device="auto")
    assert rr.device == "cpu"
    assert rr.rerank(texts.QUERIES[0], texts.DOCUMENTS[:3]).results


def test_session_reads_the_graph(tiny_models):
    bert, xlmr = Reranker(tiny_models["bert-1"]), Reranker(tiny_models["xlmr"])
    assert bert.has_token_type_ids and not xlmr.has_token_type_ids
    assert bert.num_logits == 1
    assert Reranker(tiny_models["bert-2"]).num_logits == 2
    assert xlmr.max_length == 64  # 66 positions, RoBERTa offset 2
    assert bert.max_length == 128
    assert Reranker(tiny_models["bert-1"], threads=1).threads == 1


def _save_tokenizer(tmp_path, processor):
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "<s>": 4, "</s>": 5, "hello": 6, "world": 7, "what": 8, "is": 9, "a": 10}
    tok = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = Whitespace()
    if processor is not None:
        tok.post_processor = processor
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    return path


def test_pair_template_from_every_post_processor(tmp_path):
    from tokenizers.processors import BertProcessing, ByteLevel, RobertaProcessing, Sequence, TemplateProcessing

    bert = _save_tokenizer(tmp_path, BertProcessing(("[SEP]", 3), ("[CLS]", 2)))
    t = tokenization.load(bert).pair_template
    assert (t.prefix, t.middle, t.suffix, t.doc_type, t.suffix_types) == ([2], [3], [3], 1, [1])

    roberta = _save_tokenizer(tmp_path, RobertaProcessing(("</s>", 5), ("<s>", 4)))
    t = tokenization.load(roberta).pair_template
    assert (t.prefix, t.middle, t.suffix, t.doc_type) == ([4], [5, 5], [5], 0)

    custom = TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    t = tokenization.load(_save_tokenizer(tmp_path, custom)).pair_template
    assert (t.prefix, t.middle, t.middle_types, t.suffix, t.suffix_types) == ([2], [3, 3], [0, 0], [3], [1])

    seq = Sequence([ByteLevel(trim_offsets=False), BertProcessing(("[SEP]", 3), ("[CLS]", 2))])
    assert tokenization.load(_save_tokenizer(tmp_path, seq)).pair_template.prefix == [2]

    with pytest.raises(ValueError, match="no post_processor"):
        tokenization.load(_save_tokenizer(tmp_path, None))
    swapped = TemplateProcessing(single="$A", pair="[CLS] $B [SEP] $A", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    with pytest.raises(ValueError, match="only A then B"):
        tokenization.load(_save_tokenizer(tmp_path, swapped))


def test_tokenizer_settings_in_the_file_are_switched_off(tmp_path, tiny_models):
    config = json.loads((tiny_models["bert-1"] / "tokenizer.json").read_text())
    config["truncation"] = {"direction": "Right", "max_length": 5, "strategy": "LongestFirst", "stride": 0}
    config["padding"] = {
        "strategy": {"Fixed": 64},
        "direction": "Right",
        "pad_to_multiple_of": None,
        "pad_id": 0,
        "pad_type_id": 0,
        "pad_token": "[PAD]",
    }
    (tmp_path / "tokenizer.json").write_text(json.dumps(config))
    tok = tokenization.load(tmp_path)
    ids = tok.encode_ids(["a much longer sentence than five tokens, surely"])[0]
    assert len(ids) > 5 and 0 not in ids
    flat, offsets = tok.encode_ragged(["a b", "", "c"])
    assert flat.dtype == np.int32 and offsets.tolist()[0] == 0 and offsets[-1] == len(flat)
    assert offsets[2] == offsets[1]


def test_import_does_not_need_onnxruntime():
    code = "import sys; sys.modules['onnxruntime'] = None; import fastrerank, fastrerank._core; print(fastrerank.Reranker.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "Reranker"


def test_rerank_many_equals_one_call_per_request(rr):
    requests = [(q, texts.DOCUMENTS[i:] + [texts.LONG_DOCUMENT]) for i, q in enumerate(texts.QUERIES)]
    together = rr.rerank_many(requests, top_n=5)
    assert len(together) == len(requests)
    for (q, docs), resp in zip(requests, together):
        alone = rr.rerank(q, docs, top_n=5)
        assert [r.index for r in resp.results] == [r.index for r in alone.results]
        assert np.allclose([r.relevance_score for r in resp.results], [r.relevance_score for r in alone.results], atol=1e-5)
        assert resp.meta == alone.meta and resp.id != alone.id
    assert rr.rerank_many([]) == []


def test_rerank_many_names_the_bad_request(rr):
    with pytest.raises(TypeError, match=r"requests\[1\]: documents must be"):
        rr.rerank_many([("q", ["a"]), ("q", None)])
    with pytest.raises(ValueError, match=r"requests\[0\]: query is empty"):
        rr.rerank_many([("", ["a"])])
    with pytest.raises(TypeError, match="requests"):
        rr.rerank_many("q")  # type: ignore[arg-type]


def test_score_encoded_is_the_pair_level_entry_point(rr):
    first = rr.encode_request("first query", ["doc a"])
    second = rr.encode_request("second query", ["doc b", texts.LONG_DOCUMENT], DocumentLimits(max_windows_per_doc=2))
    a, b = rr.score_encoded([first, second])
    assert a.scores.shape == (1,) and b.scores.shape == (2,) and b.windows.tolist()[1] == 2
    assert b.windows.tolist() == rr.plan(second).windows.tolist()
    alone = rr.rerank("second query", ["doc b", texts.LONG_DOCUMENT], max_windows_per_doc=2)
    assert np.allclose(sorted(b.scores.tolist(), reverse=True), [r.relevance_score for r in alone.results], atol=1e-5)
    raw_a, raw_b = rr.score_encoded([first, second], normalize="none")
    np.testing.assert_allclose(1 / (1 + np.exp(-raw_b.scores)), b.scores, atol=1e-6)
    assert rr.score_encoded([]) == []
    with pytest.raises(ValueError, match="normalize"):
        rr.score_encoded([first], normalize="tanh")


def test_a_document_subset_keeps_its_rules_and_ids(rr):
    request = rr.encode_request("q", ["a b c", "", "d e"], DocumentLimits(2, truncation_side="Left"))
    picked = request.subset(np.array([2, 0]))
    assert picked.limits == DocumentLimits(2, None, "left")
    ids, offsets = rr.encode(["d e", "a b c"])
    assert np.array_equal(picked.doc_ids, ids) and np.array_equal(picked.doc_offsets, offsets)


@pytest.mark.parametrize("model", ["bert-1", "bert-2", "minilm"])
def test_scores_are_identical_with_the_fast_tokenizer_on_and_off(tiny_models, minilm, monkeypatch, model):
    path = minilm if model == "minilm" else tiny_models[model]
    fast = Reranker(path)
    monkeypatch.setenv(tokenization.FAST_PATH_ENV, "0")
    slow = Reranker(path)
    assert fast.tokenizer.is_fast and not slow.tokenizer.is_fast
    docs = [*texts.DOCUMENTS, *tokenization._probe_texts(fast.tokenizer._config)[:12], *texts.debian_documents(10, 2000)[:20]]
    queries = texts.QUERIES[:1] if model == "minilm" else [*texts.QUERIES, "[CLS] what\x0bis [SEP] this?"]
    if model != "minilm":
        docs.append(texts.LONG_DOCUMENT)
    for q in queries:
        a, b = fast.rerank(q, docs), slow.rerank(q, docs)
        assert ranking(a) == ranking(b)
        assert [r.index for r in a.results] == [r.index for r in b.results]
        assert a.meta == b.meta
    ids_fast, offsets_fast = fast.encode(docs)
    ids_slow, offsets_slow = slow.encode(docs)
    assert ids_fast.tolist() == ids_slow.tolist() and offsets_fast.tolist() == offsets_slow.tolist()
