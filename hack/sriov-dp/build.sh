#!/usr/bin/env bash
# Build the upstream SR-IOV network device plugin (sriovdp) from its Go module,
# github.com/k8snetworkplumbingwg/sriov-network-device-plugin, cmd/sriovdp, pinned below, into
# <repo>/.cache/sriov-dp/<key>/ (git-ignored, inside the project share so the QEMU guest sees it),
# as the baseline for benchmarks/deviceplugin.py. Prints that directory. Cached, including a
# refusal: a module the proxy refused is not asked for again unless KVSRIOV_SRIOVDP_RETRY=1.
#
# Its tags (v3.x) do not match its module path (no /v3), so the go command cannot use them: we pin
# a commit, which the go command turns into a pseudo-version. KVSRIOV_SRIOVDP_SRC=<a checkout>
# builds from that instead.
#
# Exit 0: built (<dir>/sriovdp). Exit 3: cannot be built here; the reason is on stderr and in
# <dir>/sriovdp.unavailable, for the benchmark to print.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# master with go.mod at k8s.io/kubelet v0.31.1, grpc v1.67.1 (the v3.8/v3.9 line).
SRIOVDP_REF=${SRIOVDP_REF:-0139624c19359a5b19de2902bb405fea6be01d23}
command -v go >/dev/null || { echo "go is not installed: cannot build sriovdp" >&2; exit 3; }
key=$(echo "$SRIOVDP_REF ${KVSRIOV_SRIOVDP_SRC:-} $(go env GOVERSION)" | sha256sum | cut -c1-12)
out="${KVSRIOV_SRIOVDP_CACHE:-$repo/.cache/sriov-dp}/$key"
mkdir -p "$out"
ln -sfn "$key" "$(dirname "$out")/current"
if [ -x "$out/sriovdp" ]; then echo "$out"; exit 0; fi
if [ -f "$out/sriovdp.unavailable" ] && [ -z "${KVSRIOV_SRIOVDP_RETRY:-}" ]; then
  echo "$(cat "$out/sriovdp.unavailable") (cached answer; KVSRIOV_SRIOVDP_RETRY=1 asks again)" >&2
  echo "$out"; exit 3
fi
if [ -n "${KVSRIOV_SRIOVDP_SRC:-}" ]; then
  echo "building sriovdp from $KVSRIOV_SRIOVDP_SRC into $out" >&2
  (cd "$KVSRIOV_SRIOVDP_SRC" && go build -trimpath -o "$out/sriovdp" ./cmd/sriovdp) >&2
else
  echo "building sriovdp@$SRIOVDP_REF from the Go module proxy into $out" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  if ! (cd "$tmp" && go mod init kvsriov-sriovdp-build >/dev/null 2>&1 \
        && go get "github.com/k8snetworkplumbingwg/sriov-network-device-plugin@$SRIOVDP_REF" \
        && go build -trimpath -o "$out/sriovdp" github.com/k8snetworkplumbingwg/sriov-network-device-plugin/cmd/sriovdp) \
        >"$tmp/log" 2>&1; then
    reason="cannot build sriovdp@$SRIOVDP_REF: $(tail -n 3 "$tmp/log" | tr '\n' ' ')"
    echo "$reason" >&2
    echo "$reason" >"$out/sriovdp.unavailable"
    echo "$out"; exit 3
  fi
fi
rm -f "$out/sriovdp.unavailable"
echo "$out"
