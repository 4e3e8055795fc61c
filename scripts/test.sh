#!/usr/bin/env bash
# Set up .venv and run the test suite (real MLflow: sqlite stores and a local server).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export MLFLOW_DISABLE_TELEMETRY=true
exec .venv/bin/python -m pytest "$@"
