#!/usr/bin/env bash
# Build kube-apiserver and etcd from their upstream Go modules (versions pinned
# in go.mod: k8s.io/kubernetes and go.etcd.io/etcd/server/v3) into a cache dir,
# for the real-server test tier. Prints the directory holding both binaries.
# Cached: a second run with the same go.mod/go.sum returns at once.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v go >/dev/null || { echo "go is not installed: cannot build kube-apiserver" >&2; exit 3; }
key=$(cat "$here/go.mod" "$here/go.sum" "$here"/cmd/*/main.go | sha256sum | cut -c1-12)
out="${KVSRIOV_REAL_APISERVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kvsriov/real-apiserver}/$key"
if [ -x "$out/kube-apiserver" ] && [ -x "$out/etcd" ]; then
  echo "$out"; exit 0
fi
mkdir -p "$out.tmp"
echo "building kube-apiserver and etcd from Go modules into $out (first time: several minutes)" >&2
(cd "$here" && go build -trimpath -o "$out.tmp/" ./cmd/kube-apiserver ./cmd/etcd) >&2
rm -rf "$out" && mv "$out.tmp" "$out"
echo "$out"
