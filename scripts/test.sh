#!/usr/bin/env bash
# Set up .venv and run the test suite against real MLflow: sqlite stores, and local
# `mlflow server`s on sqlite and on a throwaway PostgreSQL 15 cluster (skipped, with
# the reason, if PostgreSQL's server programs are not installed; see tests/support/).
# Arguments go to pytest: `-m "not http"` runs the sqlite store only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export MLFLOW_DISABLE_TELEMETRY=true
exec .venv/bin/python -m pytest "$@"
