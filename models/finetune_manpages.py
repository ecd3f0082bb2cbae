"""A cross-encoder that ranks, trained here: the real-size MiniLM-L6 test model fine-tuned for
one epoch on man-page pairs (query: a page's NAME description; relevant: its DESCRIPTION), with
a TF-IDF hard negative and a random page per query, binary cross-entropy. Held-out pages
(models/manpages.py ``split``) are never trained on: the agreement benchmark ranks them.

    python models/finetune_manpages.py [OUT_DIR]    # default: .cache/models/minilm-l6-manpages

About 10 minutes on 2 idle cores (150 steps of 16 pairs); run it under ``flock -s /work/cpu.lock nice -n 15`` on a shared
machine. OUT_DIR is a transformers model and a fastrerank model directory (``model.onnx``,
``model_int8.onnx``, ``model_fp16.onnx``, ``fastrerank-export.json``), git-ignored like every
model. Rebuilt only when the recipe (this file's settings) changes.
"""

from __future__ import annotations

import json
import random
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import manpages  # noqa: E402
import minilm_test_model  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / ".cache" / "models" / "minilm-l6-manpages"
RECIPE = {
    "base": "minilm-l6-test",
    "train_queries": 800,  # x 3 pairs: relevant, TF-IDF hard negative, random page
    "epochs": 1,
    "batch_size": 16,
    "learning_rate": 3e-5,
    "warmup": 0.1,
    "max_length": 160,  # covers query + most of a 180-word passage; 256 doubled the time on 2 shared cores
    "seed": 0,
    "version": 3,
}
STAMP = "fastrerank-finetune.json"


def training_pairs(train: list[manpages.Page], queries: int, seed: int) -> list[tuple[str, str, float]]:
    """(query, passage, label) triples: per training query its page (1), the page nearest to
    the query by TF-IDF other than its own (0) and a random page (0); shuffled."""
    rng = random.Random(seed)
    tfidf = manpages.Tfidf([p.passage for p in train])
    pairs = []
    for i in rng.sample(range(len(train)), min(queries, len(train))):
        page = train[i]
        hard = tfidf.nearest(page.query, 1, exclude=i)[0]
        other = rng.randrange(len(train) - 1)
        other += other >= i  # any page but its own
        pairs += [(page.query, page.passage, 1.0), (page.query, train[hard].passage, 0.0), (page.query, train[other].passage, 0.0)]
    rng.shuffle(pairs)
    return pairs


def train(base: Path, out: Path, pairs: list[tuple[str, str, float]]) -> None:
    """One epoch of BCE on ``pairs``, from ``base``; the model and tokenizer saved to ``out``."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

    torch.manual_seed(RECIPE["seed"])
    torch.set_num_threads(2)
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    model = AutoModelForSequenceClassification.from_pretrained(str(base), attn_implementation="eager")
    model.train()
    bs = RECIPE["batch_size"]
    steps = (len(pairs) + bs - 1) // bs * RECIPE["epochs"]
    optimizer = torch.optim.AdamW(model.parameters(), lr=RECIPE["learning_rate"])
    schedule = get_linear_schedule_with_warmup(optimizer, int(RECIPE["warmup"] * steps), steps)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    # batches of similar lengths (little padding), in random order
    by_length = sorted(pairs, key=lambda p: len(p[0]) + len(p[1]))
    batches = [by_length[k : k + bs] for k in range(0, len(by_length), bs)]
    random.Random(RECIPE["seed"]).shuffle(batches)
    start = time.perf_counter()
    for epoch in range(RECIPE["epochs"]):
        for step, batch in enumerate(batches):
            enc = tokenizer(
                [q for q, _, _ in batch],
                [p for _, p, _ in batch],
                truncation="only_second",
                max_length=RECIPE["max_length"],
                padding=True,
                return_tensors="pt",
            )
            logits = model(**enc).logits.squeeze(-1)
            loss = loss_fn(logits, torch.tensor([y for _, _, y in batch]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            if step % 50 == 0:
                print(f"epoch {epoch} step {step}/{steps}: loss {loss.item():.4f} ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    model.eval()
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))


def build(out: Path = DEFAULT_OUT) -> Path:
    """Fine-tunes (or reuses, when its stamp matches the recipe) the man-page model in ``out``
    and exports it with fp32, int8 and fp16 files; returns ``out``."""
    from fastrerank.export import export

    if not ((out / STAMP).is_file() and json.loads((out / STAMP).read_text()) == RECIPE):
        base = minilm_test_model.build()
        _, train_pages = manpages.split(manpages.pages(), RECIPE["seed"])
        pairs = training_pairs(train_pages, RECIPE["train_queries"], RECIPE["seed"])
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        train(base, out, pairs)
        (out / STAMP).write_text(json.dumps(RECIPE, indent=2))
    if not (out / "model_int8.onnx").is_file():
        export(out, out, precisions=("fp32", "int8", "fp16"))
    return out


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT))
