#!/usr/bin/env bash
# Build the helm CLI (helm.sh/helm/v3, pinned below) from its Go module into a cache dir, for
# tests/deploy/test_helm.py. Prints the directory holding `helm`. Cached: a second run with the
# same version returns at once. Exit 3 when it cannot be built here (no go, or the module proxy
# refuses it): the reason is on stderr.
set -euo pipefail
HELM_VERSION=${HELM_VERSION:-v3.22.0}
command -v go >/dev/null || { echo "go is not installed: cannot build helm" >&2; exit 3; }
out="${KVSRIOV_HELM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kvsriov/helm}/$HELM_VERSION"
if [ -x "$out/helm" ]; then
  echo "$out"; exit 0
fi
echo "building helm $HELM_VERSION from the Go module proxy into $out (first time: a few minutes)" >&2
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
# `go install pkg@version` builds with the module's own go.mod and go.sum, outside any module of ours.
if ! GOBIN="$out.tmp" GOFLAGS=-mod=mod go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2; then
  echo "cannot build helm.sh/helm/v3@$HELM_VERSION from the Go module proxy" >&2
  rm -rf "$out.tmp"
  exit 3
fi
rm -rf "$out" && mv "$out.tmp" "$out"
echo "$out"
