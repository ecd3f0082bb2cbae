#!/usr/bin/env bash
# The framework tests (LangChain, LlamaIndex, Haystack and their Cohere / TEI clients) in their
# own virtualenv, so their dependencies never meet the main test environment's.
#   FASTRERANK_TEST_MODEL=path/to/model bash tests/integrations/run.sh [pytest args]
# The virtualenv is .cache/framework-venv/<key>, the key a hash of the requirements, pyproject.toml
# and the Python version: made once, reused while they stay the same. This checkout is installed
# into it on every run. The model comes from the caller (the main tests build it with torch,
# which this virtualenv does not have): tests/test_integrations.py runs this script.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${FASTRERANK_TEST_MODEL:?set FASTRERANK_TEST_MODEL to a model directory}"
python=${PYTHON:-python3}

key=$( { cat tests/integrations/requirements.txt pyproject.toml; "$python" -VV; } | sha256sum | cut -c1-16)
venv=".cache/framework-venv/$key"
if [ ! -f "$venv/complete" ]; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -r tests/integrations/requirements.txt ".[server,langchain,llama-index,haystack]"
  touch "$venv/complete"
else
  "$venv/bin/python" -m pip install -q --no-deps --force-reinstall .
fi

# Nothing here may leave the machine: no telemetry, no tracing, no tokens picked up from the
# environment (tests/integrations/conftest.py also refuses every non-loopback connection).
export HAYSTACK_TELEMETRY_ENABLED=False LANGSMITH_TRACING=false LANGCHAIN_TRACING_V2=false
unset HF_TOKEN HF_API_TOKEN CO_API_KEY COHERE_API_KEY CO_API_URL || true
exec "$venv/bin/python" -m pytest -c tests/integrations/pytest.ini -p no:cacheprovider tests/integrations "$@"
