#!/usr/bin/env bash
# Build the whereabouts IPAM plugin (github.com/k8snetworkplumbingwg/whereabouts, the IPAM our
# NADs name) from its Go module, with the module's own go.mod and go.sum, into a cache dir,
# and copy its CRDs (IPPool, OverlappingRangeIPReservation) beside it. Prints that directory.
# Cached: a second run with the same version returns at once.
# Exit 3 when it cannot be built here (no go, or the module proxy refuses it): reason on stderr.
set -euo pipefail
WHEREABOUTS_VERSION=${WHEREABOUTS_VERSION:-v0.9.2}
module=github.com/k8snetworkplumbingwg/whereabouts
command -v go >/dev/null || { echo "go is not installed: cannot build whereabouts" >&2; exit 3; }
out="${KVSRIOV_WHEREABOUTS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kvsriov/whereabouts}/$WHEREABOUTS_VERSION"
if [ -x "$out/whereabouts" ] && [ -d "$out/crds" ]; then
  echo "$out"; exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! src=$(cd "$tmp" && go mod init kvsriov-whereabouts-build >/dev/null 2>&1 \
      && go mod download -json "$module@$WHEREABOUTS_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'); then
  echo "cannot download $module@$WHEREABOUTS_VERSION from the Go module proxy" >&2
  exit 3
fi
[ -n "$src" ] || { echo "cannot download $module@$WHEREABOUTS_VERSION from the Go module proxy" >&2; exit 3; }
echo "building whereabouts $WHEREABOUTS_VERSION into $out (first time: a few minutes)" >&2
rm -rf "$out.tmp" && mkdir -p "$out.tmp/crds"
# cmd/whereabouts.go is the CNI plugin's main package; built inside the module, so that its own
# go.sum pins every dependency.
(cd "$src" && go build -trimpath -o "$out.tmp/whereabouts" ./cmd) >&2
cp "$src"/doc/crds/whereabouts.cni.cncf.io_ippools.yaml \
   "$src"/doc/crds/whereabouts.cni.cncf.io_overlappingrangeipreservations.yaml "$out.tmp/crds/"
chmod -R u+w "$out.tmp"
rm -rf "$out" && mv "$out.tmp" "$out"
echo "$out"
