#!/usr/bin/env bash
# Create .venv (if needed) and install registry-ops with its quickstart and dev extras.
# torch is pinned by constraints.txt: an unpinned torch pulls gigabytes of CUDA wheels.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.registry-ops-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -c constraints.txt -e '.[quickstart,dev]'
  touch "$stamp"
fi
