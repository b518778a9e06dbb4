#!/usr/bin/env bash
# Build the CNI programs that tests/hil/test_sriov_cni_hil.py runs as a container runtime would:
#   sriov   - github.com/k8snetworkplumbingwg/sriov-cni, cmd/sriov, pinned below (SRIOV_CNI_REF)
#   static, host-device - github.com/containernetworking/plugins (ipam/static, main/host-device),
#             pinned in go.mod; host-device checks the test's CNI runner on its own
#   bridge  - github.com/containernetworking/plugins (main/bridge), same pin: the vNIC NAD's
#             plugin, which tests/hil/test_vf_vnic_reach_hil.py runs next to a VF
# into <repo>/.cache/cni/<key>/ (git-ignored, and inside the project share, so the QEMU guest
# sees it: the guest does not see ~/.cache). Prints that directory. Cached: a second run with
# the same pins returns at once.
#
# sriov-cni's tags are v2.x while its go.mod says `module github.com/k8snetworkplumbingwg/sriov-cni`
# (no /v2), so the go command cannot use the tags: we pin a commit, which the go command turns
# into a pseudo-version. KVSRIOV_SRIOV_CNI_SRC=<a sriov-cni checkout> builds from that instead.
#
# <repo>/.cache/cni/current points at the directory of the latest run.
# Exit 0: all built. Exit 3: something could not be built (go missing, or sriov-cni not
# obtainable); the reason is on stderr, and whatever could be built is still in the directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# master of 2025-10 (go.mod: cni v1.3.0, netlink v1.3.1), after release v2.9.0.
SRIOV_CNI_REF=${SRIOV_CNI_REF:-0426d47a4438a62638f9fc97dbd50ed637296f77}
command -v go >/dev/null || { echo "go is not installed: cannot build sriov-cni" >&2; exit 3; }
key=$( (cat "$here/go.mod" "$here/go.sum" "$here/tools.go"; echo "$SRIOV_CNI_REF ${KVSRIOV_SRIOV_CNI_SRC:-}") \
  | sha256sum | cut -c1-12)
out="${KVSRIOV_CNI_CACHE:-$repo/.cache/cni}/$key"
mkdir -p "$out"
if [ ! -x "$out/static" ] || [ ! -x "$out/host-device" ] || [ ! -x "$out/bridge" ]; then
  echo "building the CNI reference plugins static, host-device and bridge into $out" >&2
  (cd "$here" && go build -trimpath -o "$out/" github.com/containernetworking/plugins/plugins/ipam/static \
    github.com/containernetworking/plugins/plugins/main/host-device \
    github.com/containernetworking/plugins/plugins/main/bridge) >&2
fi
ln -sfn "$key" "$(dirname "$out")/current"  # what the hil test looks for
if [ ! -x "$out/sriov" ] && [ -f "$out/sriov.unavailable" ] && [ -z "${KVSRIOV_CNI_RETRY:-}" ]; then
  # Asked before with these pins and refused: do not ask again on every run.
  echo "$(cat "$out/sriov.unavailable") (cached answer; KVSRIOV_CNI_RETRY=1 asks again)" >&2
  echo "$out"
  exit 3
fi
if [ ! -x "$out/sriov" ]; then
  if [ -n "${KVSRIOV_SRIOV_CNI_SRC:-}" ]; then
    echo "building sriov-cni from $KVSRIOV_SRIOV_CNI_SRC into $out" >&2
    (cd "$KVSRIOV_SRIOV_CNI_SRC" && go build -trimpath -o "$out/sriov" ./cmd/sriov) >&2
  else
    echo "building sriov-cni@$SRIOV_CNI_REF from the Go module proxy into $out" >&2
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    # A throw-away main module, so the pin does not have to sit in our go.mod (whose
    # resolution would then fail as a whole where sriov-cni cannot be had).
    if ! (cd "$tmp" && go mod init kvsriov-sriov-cni-build >/dev/null 2>&1 \
          && go get "github.com/k8snetworkplumbingwg/sriov-cni@$SRIOV_CNI_REF" \
          && go build -trimpath -o "$out/sriov" github.com/k8snetworkplumbingwg/sriov-cni/cmd/sriov) >"$tmp/log" 2>&1; then
      reason="cannot build sriov-cni@$SRIOV_CNI_REF: $(tail -n 3 "$tmp/log" | tr '\n' ' ')"
      echo "$reason" >&2
      echo "$reason" >"$out/sriov.unavailable"  # the guest-side test names it in its skip
      echo "$out"
      exit 3
    fi
  fi
fi
rm -f "$out/sriov.unavailable"
echo "$out"
