#!/usr/bin/env bash
# Build the kubelet from the upstream k8s.io/kubernetes module (the release pinned in go.mod, the
# same as hack/real-apiserver's kube-apiserver) into a cache dir, for the real node tier
# (issue 16; not yet run by hack/peers.sh: no test uses it yet). Prints the directory.
# Cached: a second run with the same go.mod/go.sum returns at once. About 30 s with the Go
# build cache the real-apiserver build leaves, about 11 minutes on 2 cores without it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v go >/dev/null || { echo "go is not installed: cannot build the kubelet" >&2; exit 3; }
key=$(cat "$0" "$here/go.mod" "$here/go.sum" "$here"/cmd/*/main.go | sha256sum | cut -c1-12)
out="${KVSRIOV_REAL_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kvsriov/real-node}/$key"
if [ -x "$out/kubelet" ]; then
  echo "$out"; exit 0
fi
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
echo "building the kubelet from k8s.io/kubernetes into $out" >&2
(cd "$here" && go build -trimpath -o "$out.tmp/" ./cmd/kubelet) >&2
rm -rf "$out" && mv "$out.tmp" "$out"
echo "$out"
