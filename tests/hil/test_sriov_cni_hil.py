"""Real sriov-cni on real VFs, run as a container runtime would, with the CNI config our operator renders.

The CNI programs come from hack/sriov-cni/build.sh (run on the host before the guest boots:
<repo>/.cache/cni/current, inside the project share). The operator's render for an L3
network on a VLAN 100 L2 network goes to sriov-cni unchanged except for three things a
runtime adds or this test bed cannot have:

* `deviceID`: the VF's PCI address, as Multus adds it from the device plugin's allocation
  (sriov-cni reads it from the top level of the config: pkg/types NetConf `deviceID`);
* the pod's MAC, both ways Multus passes it: in CNI_ARGS (`MAC=...`, next to IgnoreUnknown
  and the K8S_POD_* keys; multus pkg/multus delegateAdd, always, "deprecated in 3.5") and as
  `runtimeConfig.mac`, which libcni injects only into a config declaring `capabilities:
  {"mac": true}` (containernetworking/cni libcni/api.go injectRuntimeConfig), as ours does;
  sriov-cni prefers the runtimeConfig (pkg/cnicommands CmdAdd: "RuntimeConfig takes preference");
* `ipam`: whereabouts allocates through the Kubernetes API, which the guest has not (it is
  exercised with the cluster elsewhere); here the CNI reference `static` plugin takes its
  place, with the first address of the rendered range and the rendered gateway.

The kernel is then asked (`ip -d link show <pf>`, `ip -n <netns> ...`) whether the VF's VLAN,
MAC and spoof checking are what the config says, (a) for a VF on vfio-pci, which sriov-cni
drives from the PF only (its LoadConf sets DPDKMode for a VF without a netdev whose driver is
in utils.UserspaceDrivers: vfio-pci, uio_pci_generic, igb_uio), and (b) for a VF on igbvf,
whose netdev ADD moves into the pod's namespace as net1 and DEL moves back. A rendered config
that sriov-cni refuses fails the test.

Two details of the guest: sriov-cni keeps its state in /var/lib/cni/sriov and the guest's
/var/lib is the host's read-only root, so each plugin call runs in a private mount namespace
with a tmpfs directory bound over /var/lib (the same directory for every call, so ADD's cache
reaches DEL); and names are kernel names (no udev).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kvsriov.api.l2 import SriovL2Network
from kvsriov.api.l3 import SriovL3Network
from kvsriov_agent.binding import bind_vf, vf_driver
from kvsriov_agent.discovery import discover_nics
from kvsriov_agent.host.bundle import Host, real_host
from kvsriov_agent.slicing import apply_numvfs, current_numvfs, plan_numvfs, vf_addresses
from kvsriov_operator.render.nad import render_nad

pytestmark = pytest.mark.hil

PROJECT = Path(__file__).resolve().parents[2]
CNI_BIN = PROJECT / ".cache" / "cni" / "current"
#: Stands for /var/lib in each plugin call (guest tmpfs).
VAR_LIB = Path("/run/kvsriov-hil-cni-var-lib")
IGB_TOTAL_VFS = 7
VLAN = 100
IFNAME = "net1"


# -- the CNI side ----------------------------------------------------------------------------------


class CniError(AssertionError):
    pass


def cni_dir(*plugins: str) -> Path:
    """The directory of the built plugins; skip, naming why, when one is missing."""
    for name in plugins:
        if not os.access(CNI_BIN / name, os.X_OK):
            why = CNI_BIN / f"{name}.unavailable"
            reason = why.read_text().strip() if why.exists() else "not built"
            pytest.skip(
                f"{name} CNI plugin missing from {CNI_BIN} ({reason}); hack/sriov-cni/build.sh builds it"
            )
    return CNI_BIN.resolve()


def run_cni(
    plugin_dir: Path,
    plugin: str,
    command: str,
    conf: dict[str, Any],
    netns: str,
    container_id: str,
    mac: str | None = None,
) -> dict[str, Any]:
    """One plugin call with the CNI_* environment and the config on stdin; the parsed result."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": container_id,
        "CNI_NETNS": f"/var/run/netns/{netns}",
        "CNI_IFNAME": IFNAME,
        "CNI_PATH": str(plugin_dir),
        # As Multus sets it (pkg/multus: rt.Args, plus MAC for a network selection's "mac").
        "CNI_ARGS": ";".join(
            ["IgnoreUnknown=true", "K8S_POD_NAMESPACE=default", f"K8S_POD_NAME={netns}"]
            + ([f"MAC={mac}"] if mac else [])
        ),
    }
    if mac and (conf.get("capabilities") or {}).get("mac"):
        conf = {**conf, "runtimeConfig": {**(conf.get("runtimeConfig") or {}), "mac": mac}}
    VAR_LIB.mkdir(exist_ok=True)
    wrapped = [
        "unshare", "--mount", "--propagation", "private",
        "sh", "-c", 'mount --bind "$0" /var/lib && exec "$1"', str(VAR_LIB), str(plugin_dir / plugin),
    ]  # fmt: skip
    proc = subprocess.run(
        wrapped, input=json.dumps(conf), env=env, capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0:
        raise CniError(f"{plugin} {command} refused (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout) if proc.stdout.strip() else {}


def rendered_config(pf_ifname: str) -> dict[str, Any]:
    """The CNI config the operator puts in the NAD for an L3 network on a VLAN 100 L2 network."""
    l2 = SriovL2Network.model_validate(
        {
            "metadata": {"name": "l2-hil"},
            "spec": {"type": "Vlan", "vlan": VLAN, "physicalInterface": pf_ifname},
        }
    )
    l3 = SriovL3Network.model_validate(
        {
            "metadata": {"name": "l3-hil"},
            "spec": {
                "l2Network": "l2-hil",
                "ipam": {
                    "cidr": "192.168.100.0/24",
                    "ranges": [{"start": "192.168.100.10", "end": "192.168.100.200"}],
                    "gateway": "192.168.100.1",
                    "dns": ["192.168.100.1"],
                },
            },
        }
    )
    config: dict[str, Any] = json.loads(render_nad(l3, l2, "default")["spec"]["config"])
    assert (config["type"], config["vlan"], config["ipam"]["type"]) == ("sriov", VLAN, "whereabouts")
    return config


def static_ipam(rendered_ipam: dict[str, Any]) -> dict[str, Any]:
    """`static` in place of whereabouts: the first address of the rendered range, its gateway."""
    first = rendered_ipam["ipRanges"][0]
    prefix = ipaddress.ip_network(first["range"]).prefixlen
    address: dict[str, str] = {"address": f"{first['range_start']}/{prefix}"}
    if "gateway" in rendered_ipam:
        address["gateway"] = rendered_ipam["gateway"]
    return {
        "type": "static",
        "addresses": [address],
        **({"dns": rendered_ipam["dns"]} if "dns" in rendered_ipam else {}),
    }


def delegated_config(rendered: dict[str, Any], device_id: str) -> dict[str, Any]:
    # whereabouts needs the cluster's API server and is exercised elsewhere; everything else of
    # the config is the operator's render, unchanged.
    conf = dict(rendered, ipam=static_ipam(rendered["ipam"]))
    conf["deviceID"] = device_id  # Multus: the device plugin's allocation for this pod
    return conf


def with_prev_result(conf: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """CHECK and DEL get ADD's result as prevResult, as libcni passes it."""
    return dict(conf, prevResult=result)


# -- the kernel side -------------------------------------------------------------------------------

_VF_LINE = re.compile(r"^\s*vf (?P<index>\d+)\s+link/ether (?P<mac>[0-9a-f:]{17}).*$", re.MULTILINE)


def ip(*args: str) -> str:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=True, timeout=30).stdout


def vf_state(pf_ifname: str, index: int) -> dict[str, Any]:
    """What the PF driver enforces for VF `index`, from `ip -d link show` (TESTBED.md (f))."""
    out = ip("-d", "link", "show", "dev", pf_ifname)
    for match in _VF_LINE.finditer(out):
        if int(match["index"]) == index:
            line = match.group(0)
            vlan = re.search(r", vlan (\d+)", line)
            spoof = re.search(r"spoof checking (on|off)", line)
            trust = re.search(r"trust (on|off)", line)
            return {
                "mac": match["mac"],
                "vlan": int(vlan.group(1)) if vlan else 0,
                "spoofchk": spoof.group(1) if spoof else None,
                "trust": trust.group(1) if trust else None,
            }
    raise AssertionError(f"no vf {index} in `ip -d link show {pf_ifname}`:\n{out}")


def ns_links(netns: str) -> dict[str, dict[str, Any]]:
    return {link["ifname"]: link for link in json.loads(ip("-n", netns, "-j", "-d", "addr", "show"))}


def vf_netdev(vf_pci: str) -> str:
    names = os.listdir(f"/sys/bus/pci/devices/{vf_pci}/net")
    assert len(names) == 1, names
    return names[0]


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def host() -> Host:
    return real_host(Path("/"))


@pytest.fixture
def two_vfs(host: Host) -> Iterator[tuple[str, dict[int, str]]]:
    """The first igb PF sliced to 2 VFs (both on igbvf); back to 0 VFs afterwards."""
    pf = next(n for n in discover_nics(host, "guest") if n.driver == "igb")
    assert pf.interface and pf.num_vfs == 0, f"{pf.interface} left at {pf.num_vfs} VFs by an earlier test"
    try:
        plan = plan_numvfs(0, 2, IGB_TOTAL_VFS, {}, force=False)
        assert plan.refused is None, plan.refused
        apply_numvfs(host, pf.pci_address, plan.steps)
        vfs = vf_addresses(host.sysfs, pf.pci_address)
        assert all(vf_driver(host, vf) == "igbvf" for vf in vfs.values())
        yield pf.interface, vfs
    finally:
        for vf in vf_addresses(host.sysfs, pf.pci_address).values():
            if vf_driver(host, vf) == "vfio-pci":
                bind_vf(host, vf, "netdevice")
        if current_numvfs(host.sysfs, pf.pci_address):
            apply_numvfs(host, pf.pci_address, [0])
        shutil.rmtree(VAR_LIB, ignore_errors=True)


@pytest.fixture
def pod_netns(request: pytest.FixtureRequest) -> Iterator[str]:
    """A network namespace standing for the pod's sandbox."""
    name = f"kvsriov-hil-{request.node.name[:40]}".replace("[", "-").replace("]", "")
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=30)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, timeout=30)


@pytest.fixture
def sriov_cni() -> Path:
    """Listed first, so a missing plugin skips before the PF is sliced."""
    return cni_dir("sriov", "static")


@pytest.fixture
def host_device_cni() -> Path:
    return cni_dir("host-device", "static")


# -- tests -----------------------------------------------------------------------------------------


def test_sriov_cni_vfio_pci_vf_settings_on_the_pf(
    sriov_cni: Path, host: Host, two_vfs: tuple[str, dict[int, str]], pod_netns: str
) -> None:
    plugins = sriov_cni
    pf, vfs = two_vfs
    vf_pci, mac = vfs[0], "02:00:00:00:07:01"
    bind_vf(host, vf_pci, "vfio-pci")
    # Start from the opposite of what the config asks, so the kernel shows sriov-cni's work.
    host.netlink.set_vf(pf, 0, spoofchk=False, trust=True)
    before = vf_state(pf, 0)
    assert (before["vlan"], before["spoofchk"], before["trust"]) == (0, "off", "on"), before
    rendered = rendered_config(pf)
    conf = delegated_config(rendered, vf_pci)

    result = run_cni(plugins, "sriov", "ADD", conf, pod_netns, "hil-vfio", mac)
    try:
        assert result["interfaces"][0]["name"] == IFNAME and result["interfaces"][0]["mac"] == mac, result
        assert result["ips"][0]["address"] == conf["ipam"]["addresses"][0]["address"], result
        assert vf_state(pf, 0) == {
            "mac": mac,
            "vlan": VLAN,
            "spoofchk": rendered["spoofchk"],
            "trust": rendered["trust"],
        }
        assert vf_driver(host, vf_pci) == "vfio-pci"  # DPDK mode: the VF stays with vfio-pci
        assert set(ns_links(pod_netns)) == {"lo"}  # and no netdev goes into the pod
        run_cni(plugins, "sriov", "CHECK", with_prev_result(conf, result), pod_netns, "hil-vfio", mac)
    finally:
        run_cni(plugins, "sriov", "DEL", with_prev_result(conf, result), pod_netns, "hil-vfio", mac)
    after = vf_state(pf, 0)
    assert (after["mac"], after["vlan"], after["spoofchk"]) == (before["mac"], 0, "off"), after


def test_sriov_cni_igbvf_netdev_into_the_pod_and_back(
    sriov_cni: Path, host: Host, two_vfs: tuple[str, dict[int, str]], pod_netns: str
) -> None:
    plugins = sriov_cni
    pf, vfs = two_vfs
    vf_pci, mac = vfs[1], "02:00:00:00:07:02"
    netdev = vf_netdev(vf_pci)
    host.netlink.set_vf(pf, 1, spoofchk=False, trust=True)
    before = vf_state(pf, 1)
    rendered = rendered_config(pf)
    conf = delegated_config(rendered, vf_pci)

    result = run_cni(plugins, "sriov", "ADD", conf, pod_netns, "hil-netdev", mac)
    try:
        assert vf_state(pf, 1) == {
            "mac": mac,
            "vlan": VLAN,
            "spoofchk": rendered["spoofchk"],
            "trust": rendered["trust"],
        }
        assert not os.path.exists(f"/sys/class/net/{netdev}")  # gone from the node's namespace
        pod = ns_links(pod_netns)
        assert set(pod) == {"lo", IFNAME}, pod
        assert pod[IFNAME]["address"] == mac
        address, prefix = conf["ipam"]["addresses"][0]["address"].split("/")
        assert {(a["local"], a["prefixlen"]) for a in pod[IFNAME]["addr_info"]} >= {(address, int(prefix))}
        assert result["interfaces"][0]["sandbox"] == f"/var/run/netns/{pod_netns}"
        run_cni(plugins, "sriov", "CHECK", with_prev_result(conf, result), pod_netns, "hil-netdev", mac)
    finally:
        run_cni(plugins, "sriov", "DEL", with_prev_result(conf, result), pod_netns, "hil-netdev", mac)
    assert set(ns_links(pod_netns)) == {"lo"}
    assert vf_netdev(vf_pci) == netdev and os.path.exists(f"/sys/class/net/{netdev}")  # back, own name
    after = vf_state(pf, 1)
    assert (after["mac"], after["vlan"], after["spoofchk"]) == (before["mac"], 0, "off"), after


def test_cni_runner_with_the_reference_host_device_plugin(
    host_device_cni: Path, host: Host, two_vfs: tuple[str, dict[int, str]], pod_netns: str
) -> None:
    """The runner above (netns, CNI_* environment, private /var/lib, static IPAM, the kernel reads)
    with the CNI reference `host-device` plugin, which moves a VF's netdev by PCI address: so a
    failure of the sriov-cni tests is sriov-cni's or our config's, not this harness's."""
    plugins = host_device_cni
    pf, vfs = two_vfs
    vf_pci = vfs[1]
    netdev = vf_netdev(vf_pci)
    ipam = static_ipam(rendered_config(pf)["ipam"])
    conf = {
        "cniVersion": "1.0.0",
        "name": "hil-host-device",
        "type": "host-device",
        "pciBusID": vf_pci,
        "ipam": ipam,
    }

    result = run_cni(plugins, "host-device", "ADD", conf, pod_netns, "hil-hostdev", "02:00:00:00:07:03")
    try:
        assert result["ips"][0]["address"] == ipam["addresses"][0]["address"], result
        assert not os.path.exists(f"/sys/class/net/{netdev}")
        pod = ns_links(pod_netns)
        assert set(pod) == {"lo", IFNAME}, pod
        address, prefix = ipam["addresses"][0]["address"].split("/")
        assert {(a["local"], a["prefixlen"]) for a in pod[IFNAME]["addr_info"]} >= {(address, int(prefix))}
        run_cni(
            plugins,
            "host-device",
            "CHECK",
            with_prev_result(conf, result),
            pod_netns,
            "hil-hostdev",
            "02:00:00:00:07:03",
        )
    finally:
        run_cni(
            plugins,
            "host-device",
            "DEL",
            with_prev_result(conf, result),
            pod_netns,
            "hil-hostdev",
            "02:00:00:00:07:03",
        )
    assert set(ns_links(pod_netns)) == {"lo"}
    assert vf_netdev(vf_pci) == netdev
    assert vf_state(pf, 1)["vlan"] == 0  # host-device leaves the PF's VF settings alone
