#!/usr/bin/env bash
# Sets up everything and runs every test: the C++ unit tests built with AddressSanitizer and
# UndefinedBehaviorSanitizer (ctest), then the pytest suite (tests/, and benchmarks/ once each
# as smoke tests). Uses the active virtualenv, or makes ./.venv. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/venv.sh
python -m pip install -q ".[test]" cmake ninja

cmake -S . -B build/sanitize -G Ninja -DFASTRERANK_TESTS=ON -DFASTRERANK_SANITIZE=ON \
  -DCMAKE_BUILD_TYPE=Debug > /dev/null
cmake --build build/sanitize
ctest --test-dir build/sanitize --output-on-failure

python -m pytest tests benchmarks --benchmark-disable "$@"
