"""Do a VF NIC and a vNIC of the same L3 network reach each other on one PF and VLAN? (real kernel)

kvsriov renders two NADs per SR-IOV L3 network (operator render/nad.py): the VF one (sriov-cni:
the L2 network's VLAN set on the PF side, `ip link set <pf> vf N vlan V`) and the vNIC one
(containernetworking `bridge` CNI on `br-<pf>`, `vlan: V`: the pod's veth gets PVID V
untagged; the PF is a port of that bridge carrying V tagged, which is the node's config). This
module builds exactly that in the QEMU test bed (TESTBED.md: igb 82576 PF, igbvf VFs):

    netns vf0:  VF 0 netdev, 192.168.100.10/24     (PF side: mac, vlan V, spoofchk on, trust off)
    netns vf1:  VF 1 netdev, 192.168.100.11/24     (same, the VF-to-VF control)
    netns vnic: veth in br-<pf>, 192.168.100.20/24 (by hand with ip/bridge, or the real bridge CNI
                ADD with the rendered vNIC config and `static` IPAM in place of whereabouts)
    br-<pf>:    vlan_filtering 1, the PF a port with V tagged (`bridge vlan add dev <pf> vid V`)

for V = 100 and, as a control, V = 0 (NoVlan: no VF VLAN, the bridge's default PVID 1).

What the kernel and QEMU do (asserted below; commands and outputs in notes/vf-vnic-reach.md):

* VF <-> VF on the same PF and VLAN: reach, both ways. QEMU's igb does switch between pools
  (hw/net/igb_core.c igb_tx_pkt_switch, "TX Packets Switching (7.10.3.6)", on with
  DTXSWC.Loopback_en, which the Linux PF driver sets with VFs).
* VF <-> vNIC, as rendered: do NOT reach, with VLAN 100 and without VLAN alike, by hand and with
  the bridge CNI alike; so it is not the VLAN config. ARP resolves both ways (a broadcast from the
  VF goes to every pool with VMOLR.BAM, the PF's included; a unicast to the VF's MAC matches its
  RAR entry), and the vNIC's echo requests do reach the VF (its ICMP InEchos and OutEchoReps
  grow) but the VF's unicast to the vNIC's MAC never reaches the PF: in VMDq mode
  igb_receive_assign gives a unicast to a pool only on an exact RAR (MAC filter) match, or on a
  UTA hash hit for pools with VMOLR.ROMPE; the default pool is never used for a Tx-switched
  packet, and RCTL.UPE (the PF's promiscuity as a bridge port) is not looked at. Linux programs a
  promiscuous 82576 PF with VMOLR.ROPE and an all-ones UTA ("enable use of UTA filter to force
  packets to default pool", igb_set_rx_mode), which QEMU does not honour for a UTA hit (it checks
  ROMPE). So a MAC behind the PF's bridge is unknown to the NIC's switch and the frame goes to the
  wire only.
* VF <-> vNIC once the vNIC's MAC is in the PF's MAC filter (`bridge fdb add <mac> dev <pf>
  self`: igb has no ndo_fdb_add, so the default adds it to the PF's unicast list, which
  igb_set_rx_mode writes into a RAR entry of the PF's pool): reach, both ways, with and without
  VLAN. This is the workaround Intel NICs need on real hardware too (OpenStack neutron's
  fdb_population agent extension exists for it: "enabling communication between SR-IOV instances
  and normal instances"); whether real 82576 silicon forwards through ROPE/UTA is not tested here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kvsriov.api.l2 import SriovL2Network
from kvsriov.api.l3 import SriovL3Network
from kvsriov.api.naming import vnic_bridge_name
from kvsriov_agent.discovery import discover_nics
from kvsriov_agent.host.bundle import Host, real_host
from kvsriov_agent.slicing import apply_numvfs, current_numvfs, plan_numvfs, vf_addresses
from kvsriov_operator.render.nad import render_nad, render_vnic_nad

pytestmark = pytest.mark.hil

PROJECT = Path(__file__).resolve().parents[2]
CNI_BIN = PROJECT / ".cache" / "cni" / "current"
IGB_TOTAL_VFS = 7
VLAN = 100
CIDR_PREFIX = 24
VF_IPS = {0: "192.168.100.10", 1: "192.168.100.11"}
VF_MACS = {0: "02:00:00:00:0a:10", 1: "02:00:00:00:0a:11"}
VNIC_IP = "192.168.100.20"
VNIC_MAC = "02:00:00:00:0a:20"
VF_NETNS = {0: "kvsriov-reach-vf0", 1: "kvsriov-reach-vf1"}
VNIC_NETNS = "kvsriov-reach-vnic"
VNIC_IFNAME = "net1"
PINGS = 3


# -- helpers ---------------------------------------------------------------------------------------


def sh(*args: str, check: bool = True) -> str:
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def ping_argv() -> list[str]:
    """The host root has no iputils ping; busybox (TESTBED.md setup installs busybox-static) does."""
    if shutil.which("ping"):
        return ["ping", "-n"]
    busybox = shutil.which("busybox")
    assert busybox, "neither ping nor busybox on the guest's PATH"
    return [busybox, "ping"]


def ping(netns: str, address: str) -> int:
    """Echo replies received out of PINGS from netns to address (0: did not reach)."""
    proc = subprocess.run(
        ["ip", "netns", "exec", netns, *ping_argv(), "-c", str(PINGS), "-W", "2", address],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"(\d+) packets received", proc.stdout) or re.search(r"(\d+) received", proc.stdout)
    assert match, f"no ping summary:\n{proc.stdout}\n{proc.stderr}"
    return int(match.group(1))


def icmp_counters(netns: str) -> dict[str, int]:
    """The netns' ICMP MIB (/proc/net/snmp `Icmp:` lines): InEchos, OutEchoReps, ..."""
    lines = [line.split() for line in sh("ip", "netns", "exec", netns, "cat", "/proc/net/snmp").splitlines()]
    names, values = (line[1:] for line in lines if line and line[0] == "Icmp:")
    return dict(zip(names, map(int, values), strict=True))


def neighbour_mac(netns: str, address: str) -> str | None:
    for entry in json.loads(sh("ip", "-n", netns, "-j", "neigh", "show", "to", address) or "[]"):
        if "lladdr" in entry:
            return str(entry["lladdr"])
    return None


def wait_lower_up(netns: str, ifname: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        (link,) = json.loads(sh("ip", "-n", netns, "-j", "link", "show", "dev", ifname))
        if "LOWER_UP" in link["flags"]:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{ifname} in {netns} has no carrier after {timeout} s: {link['flags']}")
        time.sleep(0.2)


def networks(pf: str, vlan: int) -> tuple[SriovL2Network, SriovL3Network]:
    spec: dict[str, Any] = {"type": "Vlan", "vlan": vlan} if vlan else {"type": "NoVlan"}
    l2 = SriovL2Network.model_validate(
        {"metadata": {"name": "l2-reach"}, "spec": {**spec, "physicalInterface": pf}}
    )
    l3 = SriovL3Network.model_validate(
        {
            "metadata": {"name": "l3-reach"},
            "spec": {
                "l2Network": "l2-reach",
                "ipam": {
                    "cidr": "192.168.100.0/24",
                    "ranges": [{"start": "192.168.100.10", "end": "192.168.100.200"}],
                },
            },
        }
    )
    return l2, l3


def rendered(pf: str, vlan: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The operator's VF and vNIC CNI configs for an L3 network on `pf` with `vlan` (0: NoVlan)."""
    l2, l3 = networks(pf, vlan)
    vf = json.loads(render_nad(l3, l2, "default")["spec"]["config"])
    vnic = json.loads(render_vnic_nad(l3, l2, "default")["spec"]["config"])
    assert (vf["type"], vf["vlan"]) == ("sriov", vlan), vf
    assert (vnic["type"], vnic["bridge"], vnic.get("vlan", 0)) == ("bridge", vnic_bridge_name(pf), vlan), vnic
    return vf, vnic


# -- the bed ---------------------------------------------------------------------------------------


@dataclass
class Bed:
    pf: str
    vlan: int
    bridge: str
    vf_netdevs: dict[int, str]
    fdb_added: list[str] = field(default_factory=list)

    def pf_fdb_add(self, mac: str) -> None:
        """The vNIC's MAC into the PF's own FDB, i.e. its unicast list, i.e. a RAR of its pool."""
        sh("bridge", "fdb", "add", mac, "dev", self.pf, "self", "permanent")
        self.fdb_added.append(mac)
        shown = sh("bridge", "fdb", "show", "dev", self.pf)
        assert re.search(rf"^{mac} self permanent", shown, re.MULTILINE), shown


@pytest.fixture(scope="module")
def host() -> Host:
    return real_host(Path("/"))


@pytest.fixture
def bed(request: pytest.FixtureRequest, host: Host) -> Iterator[Bed]:
    """The first igb PF, 2 VFs with the VF NAD's settings in their own netns, and br-<pf>."""
    vlan: int = request.param
    pf = next(n for n in discover_nics(host, "guest") if n.driver == "igb")
    assert pf.interface and pf.num_vfs == 0, f"{pf.interface} left at {pf.num_vfs} VFs by an earlier test"
    assert pf.pci_address, pf
    pf_ifname, pf_pci = pf.interface, pf.pci_address
    vf_conf, _ = rendered(pf_ifname, vlan)
    bridge = vnic_bridge_name(pf_ifname)
    bed: Bed | None = None
    (link,) = json.loads(sh("ip", "-j", "link", "show", "dev", pf_ifname))
    was_up = "UP" in link["flags"]
    try:
        sh("ip", "link", "set", pf_ifname, "up")
        plan = plan_numvfs(0, 2, IGB_TOTAL_VFS, {}, force=False)
        assert plan.refused is None, plan.refused
        apply_numvfs(host, pf_pci, plan.steps)
        vfs = vf_addresses(host.sysfs, pf_pci)
        netdevs = {}
        for index, vf_pci in sorted(vfs.items()):
            # What sriov-cni does on the PF for the VF NAD (its MAC from Multus).
            sh(
                "ip", "link", "set", pf_ifname, "vf", str(index), "mac", VF_MACS[index],
                "vlan", str(vf_conf["vlan"]), "spoofchk", vf_conf["spoofchk"], "trust", vf_conf["trust"],
            )  # fmt: skip
            # igbvf takes the PF-assigned MAC at probe ("reload the VF driver"): rebind.
            Path("/sys/bus/pci/drivers/igbvf/unbind").write_text(vf_pci)
            Path("/sys/bus/pci/drivers/igbvf/bind").write_text(vf_pci)
            (netdevs[index],) = os.listdir(f"/sys/bus/pci/devices/{vf_pci}/net")
        for index, netdev in netdevs.items():
            ns = VF_NETNS[index]
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "set", netdev, "netns", ns)
            sh("ip", "-n", ns, "link", "set", netdev, "up")
            sh("ip", "-n", ns, "addr", "add", f"{VF_IPS[index]}/{CIDR_PREFIX}", "dev", netdev)
        # The node's part of the vNIC network: the PF a tagged port of a VLAN-filtering bridge.
        sh("ip", "link", "add", bridge, "type", "bridge", "vlan_filtering", "1")
        sh("ip", "link", "set", pf_ifname, "master", bridge)
        if vlan:
            sh("bridge", "vlan", "add", "dev", pf_ifname, "vid", str(vlan))
        sh("ip", "link", "set", bridge, "up")
        bed = Bed(pf_ifname, vlan, bridge, netdevs)
        for index, netdev in netdevs.items():
            wait_lower_up(VF_NETNS[index], netdev)
        yield bed
    finally:
        for mac in bed.fdb_added if bed else []:
            sh("bridge", "fdb", "del", mac, "dev", pf_ifname, "self", check=False)
        for ns in VF_NETNS.values():
            sh("ip", "netns", "del", ns, check=False)  # the VF netdevs go back to the node
        sh("ip", "link", "del", bridge, check=False)
        if current_numvfs(host.sysfs, pf_pci):
            apply_numvfs(host, pf_pci, [0])
        if not was_up:
            sh("ip", "link", "set", pf_ifname, "down", check=False)


def cni(command: str, conf: dict[str, Any], container_id: str) -> dict[str, Any]:
    """One bridge CNI call as a runtime makes it (CNI_* environment, the config on stdin)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": container_id,
        "CNI_NETNS": f"/var/run/netns/{VNIC_NETNS}",
        "CNI_IFNAME": VNIC_IFNAME,
        "CNI_PATH": str(CNI_BIN.resolve()),
        "CNI_ARGS": f"IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME={VNIC_NETNS}",
    }
    proc = subprocess.run(
        [str(CNI_BIN / "bridge")],
        input=json.dumps(conf),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        raise AssertionError(f"bridge {command} refused ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout) if proc.stdout.strip() else {}


@pytest.fixture
def vnic(request: pytest.FixtureRequest, bed: Bed) -> Iterator[str]:
    """The vNIC in its netns, by hand (`ip`) or by the real bridge CNI; yields how."""
    how: str = request.param
    sh("ip", "netns", "add", VNIC_NETNS)
    conf: dict[str, Any] | None = None
    result: dict[str, Any] = {}
    try:
        if how == "ip":
            sh("ip", "link", "add", "vreach0", "type", "veth", "peer", VNIC_IFNAME, "netns", VNIC_NETNS)
            sh("ip", "-n", VNIC_NETNS, "link", "set", VNIC_IFNAME, "address", VNIC_MAC)
            sh("ip", "link", "set", "vreach0", "master", bed.bridge)
            if bed.vlan:
                sh("bridge", "vlan", "del", "dev", "vreach0", "vid", "1")
                sh("bridge", "vlan", "add", "dev", "vreach0", "vid", str(bed.vlan), "pvid", "untagged")
            sh("ip", "link", "set", "vreach0", "up")
            sh("ip", "-n", VNIC_NETNS, "link", "set", VNIC_IFNAME, "up")
            sh("ip", "-n", VNIC_NETNS, "addr", "add", f"{VNIC_IP}/{CIDR_PREFIX}", "dev", VNIC_IFNAME)
        else:
            for plugin in ("bridge", "static"):
                if not os.access(CNI_BIN / plugin, os.X_OK):
                    pytest.fail(f"{plugin} CNI plugin missing from {CNI_BIN}: run hack/sriov-cni/build.sh")
            _, conf = rendered(bed.pf, bed.vlan)
            # whereabouts needs the API server: `static` with the vNIC's address in its place.
            conf["ipam"] = {"type": "static", "addresses": [{"address": f"{VNIC_IP}/{CIDR_PREFIX}"}]}
            if conf.get("macspoofchk") and not shutil.which("nft"):
                warnings.warn("nft missing: bridge CNI run without the rendered macspoofchk", stacklevel=1)
                conf["macspoofchk"] = False
            result = cni("ADD", conf, "reach-vnic")
            # The plugin's work on the node: the pod's veth in the bridge, PVID V (1: NoVlan) untagged.
            (veth,) = [
                i["name"] for i in result["interfaces"] if "sandbox" not in i and i["name"] != bed.bridge
            ]
            vlans = json.loads(sh("bridge", "-j", "vlan", "show", "dev", veth))
            pvid = [
                (v["vlan"], "Egress Untagged" in v["flags"])
                for v in vlans[0]["vlans"]
                if "PVID" in v.get("flags", [])
            ]
            assert pvid == [(bed.vlan or 1, True)], vlans
        wait_lower_up(VNIC_NETNS, VNIC_IFNAME)
        yield how
    finally:
        if conf is not None and result:
            cni("DEL", dict(conf, prevResult=result), "reach-vnic")
        sh("ip", "link", "del", "vreach0", check=False)
        sh("ip", "netns", "del", VNIC_NETNS, check=False)


def vnic_mac() -> str:
    (link,) = json.loads(sh("ip", "-n", VNIC_NETNS, "-j", "link", "show", "dev", VNIC_IFNAME))
    return str(link["address"])


# -- tests -----------------------------------------------------------------------------------------

VLANS = pytest.mark.parametrize("bed", [VLAN, 0], indirect=True, ids=["vlan100", "novlan"])


@VLANS
def test_vf_reaches_vf_on_the_same_pf_and_vlan(bed: Bed) -> None:
    """Control: QEMU's igb switches VF to VF (its VEB works, and so does our VF config)."""
    assert ping(VF_NETNS[0], VF_IPS[1]) > 0
    assert ping(VF_NETNS[1], VF_IPS[0]) > 0
    assert neighbour_mac(VF_NETNS[0], VF_IPS[1]) == VF_MACS[1]


@VLANS
@pytest.mark.parametrize("vnic", ["ip", "bridge-cni"], indirect=True)
def test_vf_and_vnic_reach_only_once_the_vnic_mac_is_in_the_pf_filter(bed: Bed, vnic: str) -> None:
    """As rendered, a VF NIC and a vNIC of one network on one PF and VLAN do not reach each other
    in QEMU's igb: the VF's unicast to the vNIC's MAC (unknown to the NIC's MAC filters) goes to
    the wire only. Putting the vNIC's MAC into the PF's filter makes both directions work."""
    vf_ns, vf_ip = VF_NETNS[0], VF_IPS[0]
    mac = vnic_mac()

    # VF -> vNIC: ARP resolves (broadcast reaches the PF's pool, the reply to the VF's MAC comes
    # back), but no echo request reaches the vNIC.
    before = icmp_counters(VNIC_NETNS)
    assert ping(vf_ns, VNIC_IP) == 0, "VF reached the vNIC without an FDB entry: QEMU igb changed?"
    assert neighbour_mac(vf_ns, VNIC_IP) == mac
    assert icmp_counters(VNIC_NETNS)["InEchos"] == before["InEchos"]

    # vNIC -> VF: the requests reach the VF (PF -> VF unicast matches the VF's RAR entry) and it
    # answers, but the answers (VF -> vNIC unicast) are lost the same way.
    before = icmp_counters(vf_ns)
    assert ping(VNIC_NETNS, vf_ip) == 0, "vNIC got the VF's replies without an FDB entry"
    after = icmp_counters(vf_ns)
    assert after["InEchos"] - before["InEchos"] == PINGS, (before, after)
    assert after["OutEchoReps"] - before["OutEchoReps"] == PINGS, (before, after)

    # The cause is the NIC's MAC filter, not VLANs or the bridge: with the vNIC's MAC in a RAR
    # entry of the PF's pool, both directions reach.
    bed.pf_fdb_add(mac)
    assert ping(vf_ns, VNIC_IP) > 0
    assert ping(VNIC_NETNS, vf_ip) > 0
