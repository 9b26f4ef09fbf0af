#!/usr/bin/env bash
# Lint, type-check and run every test (unit and end-to-end on real local apiservers).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"   # the plugin must be found by the real kubectl
echo "== ruff"; ruff check .
echo "== mypy"; mypy
echo "== import-linter (layers, purity)"; lint-imports
echo "== local cluster binaries (apiservers, controllers, scheduler, KWOK)"; python -m tests.localcluster build
echo "== pytest"; pytest -q -p no:cacheprovider "$@"
