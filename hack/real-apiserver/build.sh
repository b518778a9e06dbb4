#!/usr/bin/env bash
# Build kube-apiserver, kube-scheduler and etcd from their upstream Go modules (versions
# pinned in go.mod: k8s.io/kubernetes and go.etcd.io/etcd/server/v3) into a cache dir,
# for the real-server test tier. Prints the directory holding the three binaries.
# Cached: a second run with the same go.mod/go.sum returns at once.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v go >/dev/null || { echo "go is not installed: cannot build kube-apiserver" >&2; exit 3; }
key=$(cat "$0" "$here/go.mod" "$here/go.sum" "$here"/cmd/*/main.go | sha256sum | cut -c1-12)
out="${KVSRIOV_REAL_APISERVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kvsriov/real-apiserver}/$key"
if [ -x "$out/kube-apiserver" ] && [ -x "$out/kube-scheduler" ] && [ -x "$out/etcd" ]; then
  echo "$out"; exit 0
fi
# The version the binaries report: a module build leaves component-base's placeholder
# "v0.0.0-master+$Format:%H$", which kubectl cannot parse. Kubernetes' own build
# (hack/lib/version.sh, kube::version::ldflags) stamps these variables of
# k8s.io/component-base/version and k8s.io/client-go/pkg/version; we stamp the pinned release.
kube_version=$(sed -n 's/^\tk8s.io\/kubernetes \(v[0-9.]*\)$/\1/p' "$here/go.mod")
[ -n "$kube_version" ] || { echo "cannot read the k8s.io/kubernetes version from $here/go.mod" >&2; exit 1; }
major=${kube_version#v}; major=${major%%.*}
minor=${kube_version#v*.}; minor=${minor%%.*}
ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
echo "building kube-apiserver and kube-scheduler $kube_version and etcd from their Go modules into $out" \
  "(first time: about 12 minutes on 2 cores)" >&2
(cd "$here" && go build -trimpath -ldflags "$ldflags" -o "$out.tmp/" ./cmd/kube-apiserver ./cmd/kube-scheduler ./cmd/etcd) >&2
rm -rf "$out" && mv "$out.tmp" "$out"
echo "$out"
