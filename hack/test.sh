#!/usr/bin/env bash
# The whole test suite, from a fresh clone: set up, build the real peers, check generated
# files, lint, test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/system-packages.sh
bash hack/setup.sh
# Before pytest: a first build of a peer takes minutes, more than a test's timeout.
bash hack/peers.sh
echo "== generated files are current"
.venv/bin/kvsriov crds generate --check
.venv/bin/kvsriov protos generate --check
.venv/bin/kvsriov argocd generate --check
echo "== ruff"
.venv/bin/ruff check .
echo "== import contracts"
.venv/bin/lint-imports
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
.venv/bin/python -m pytest "$@"
