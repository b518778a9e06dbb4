#!/usr/bin/env bash
# The main job: set up, then `kvsriov demo` — the reference workflow on a sandbox
# (emulated API server, simulated hosts over FUSE, the real node agents and operator).
# Pass --keep to leave the sandbox running (it prints the kubeconfig to use).
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/system-packages.sh
bash hack/setup.sh
exec .venv/bin/kvsriov demo "$@"
