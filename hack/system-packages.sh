#!/usr/bin/env bash
# Install the Debian packages the sandbox and the tests need, only those missing:
#   libfuse3-3 - the simulated host is a FUSE file system (mfusepy loads libfuse through ctypes)
#   pci.ids    - the PCI ID database the node agent names NIC models from ("82599ES ...")
#   nftables   - the nft program the bridge CNI runs for the vNIC NAD's macspoofchk (hil tests)
# As root it runs apt-get itself, with sudo when that works without a password; otherwise it
# stops with the exact command to run (exit 1).
set -euo pipefail
wanted=(libfuse3-3 pci.ids nftables)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
why="libfuse3-3: the simulated host is a FUSE file system; pci.ids: NIC model names; nftables: the bridge CNI's macspoofchk"
command -v apt-get >/dev/null || {
  echo "system packages missing: ${missing[*]} ($why); this is not Debian: install them with your package manager" >&2
  exit 1
}
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo=(sudo)
else
  echo "system packages missing: ${missing[*]} ($why). Run:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing system packages ${missing[*]} with apt-get ($why)"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "apt-get could not install ${missing[*]}: see above" >&2
  exit 1
fi
