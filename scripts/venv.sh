# Sourced by the scripts: the active virtualenv, or ./.venv (made if missing), with a current
# pip and the CPU build of PyTorch (tests and export use it; a bare `torch` would pull CUDA).
if [ -z "${VIRTUAL_ENV:-}" ]; then
  python3 -m venv .venv
  . .venv/bin/activate
fi
python -m pip install -q --upgrade pip
python -m pip install -q "torch==2.13.0"
