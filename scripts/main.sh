#!/usr/bin/env bash
# The main job: installs fastrerank and benchmarks its core (pack + finalize, 100 and 1000
# documents of ~200 tokens). Uses the active virtualenv, or makes ./.venv.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${VIRTUAL_ENV:-}" ]; then
  python3 -m venv .venv
  . .venv/bin/activate
fi
python -m pip install -q --upgrade pip
python -m pip install -q ".[bench]" pytest
python -m pytest benchmarks/test_bench_core.py --benchmark-only "$@"
