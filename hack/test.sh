#!/usr/bin/env bash
# The whole test suite, from a fresh clone: set up, check generated files, lint, test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/setup.sh
echo "== generated files are current"
.venv/bin/kvsriov crds generate --check
.venv/bin/kvsriov protos generate --check
.venv/bin/kvsriov argocd generate --check
echo "== ruff"
.venv/bin/ruff check .
echo "== import contracts"
.venv/bin/lint-imports
echo "== pytest"
.venv/bin/python -m pytest "$@"
