"""PF discovery: one SriovPhysicalNic status per physical NIC of the node (DESIGN step 2).

A physical NIC is a netdev whose `device` link leads to a PCI function that is
not itself a VF (VFs carry a `physfn` link). Virtual devices (lo, bonds,
bridges, veths) have no `device` link; virtio and other buses are not PCI.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from kvsriov.api.conditions import NicConditionType, NicReason, set_condition
from kvsriov.api.naming import resource_name
from kvsriov.api.nic import (
    BondStatus,
    LinkState,
    NicState,
    SriovPhysicalNicStatus,
    VfHealth,
    VfStatus,
    Virtualization,
)
from kvsriov.hosttypes import VfInfo
from kvsriov_agent.allocation import show_allocation, unallocated
from kvsriov_agent.host import paths
from kvsriov_agent.host.bundle import Host
from kvsriov_agent.host.interfaces import Sysfs
from kvsriov_agent.vffacts import VfFacts, read_vf

_VIRTFN = re.compile(r"^virtfn(\d+)$")


def _basename(link: str | None) -> str | None:
    return posixpath.basename(link.rstrip("/")) if link else None


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _hex_id(text: str | None) -> str | None:
    """sysfs prints PCI IDs as `0x8086`; the API and pci.ids use bare lowercase hex."""
    return text.lower().removeprefix("0x") if text else None


def physical_interfaces(sysfs: Sysfs) -> list[str]:
    """Interfaces backed by a PCI physical function, sorted by name."""
    found = []
    for ifname in sysfs.listdir(paths.CLASS_NET):
        if not sysfs.exists(paths.net_device(ifname)):
            continue  # virtual: lo, bond, bridge, veth, vlan...
        if _basename(sysfs.resolve(paths.net_device(ifname, "subsystem"))) != "pci":
            continue  # virtio, usb...: not an SR-IOV candidate
        if sysfs.exists(paths.net_device(ifname, "physfn")):
            continue  # a VF: it belongs to its PF's object
        found.append(ifname)
    return found


def link_state(sysfs: Sysfs, ifname: str) -> LinkState:
    """`carrier` is 1/0 while the interface is up; reading it on an admin-down link fails (EINVAL)."""
    carrier = sysfs.read(paths.net(ifname, "carrier"))
    if carrier == "1":
        return "Connected"
    if carrier == "0" or sysfs.read(paths.net(ifname, "operstate")) in ("down", "lowerlayerdown"):
        return "Disconnected"
    return "Unknown"


def speed_mbps(sysfs: Sysfs, ifname: str) -> int | None:
    """`speed` is Mb/s; -1 (SPEED_UNKNOWN) or unreadable (link down) means none."""
    speed = _int(sysfs.read(paths.net(ifname, "speed")))
    return speed if speed is not None and speed > 0 else None


def bond_of(sysfs: Sysfs, ifname: str) -> BondStatus | None:
    """`master` links to the upper device; only a bonding master has `bonding/slaves`."""
    master = _basename(sysfs.readlink(paths.net(ifname, "master")))
    if master is None or not sysfs.exists(paths.net(master, "bonding")):
        return None
    slaves = sysfs.read(paths.net(master, "bonding/slaves")) or ""
    return BondStatus(master=master, members=sorted(slaves.split()))


def vfs_of(host: Host, ifname: str, settings: list[VfInfo], pf_bound: bool) -> list[tuple[VfStatus, VfFacts]]:
    """VFs from the PF's `virtfnN` links (N is the VF index the PF driver uses in netlink), each with
    the facts the device plugin and binding need (vffacts.py), read once here."""
    sysfs = host.sysfs
    by_index = {vf.index: vf for vf in settings}
    result = []
    for entry in sysfs.listdir(paths.net_device(ifname)):
        match = _VIRTFN.match(entry)
        if not match:
            continue
        index = int(match.group(1))
        facts = read_vf(host, _basename(sysfs.resolve(paths.net_device(ifname, entry))) or "")
        # VFs of a PF whose driver is gone are orphans: the PF cannot manage them any more.
        health: VfHealth = "Lost" if not pf_bound else "Healthy" if facts.driver else "Unhealthy"
        info = by_index.get(index)
        status = VfStatus(
            index=index,
            pci_address=facts.pci,
            driver=facts.driver,
            mac=info.mac if info else None,
            vlan=info.vlan if info else None,
            health=health,
        )
        result.append((status, facts))
    return sorted(result, key=lambda pair: pair[0].index)


@dataclass(frozen=True)
class NicObservation:
    """One PF as a pass read it: the status to report (allocation not yet shown) and each VF's
    facts by PCI address, for the device plugin, so nothing reads them twice."""

    status: SriovPhysicalNicStatus
    vfs: dict[str, VfFacts]


def describe_nic(host: Host, node: str, ifname: str) -> SriovPhysicalNicStatus:
    """Everything the NIC table shows about one PF, with no VF allocated (no device plugin asked)."""
    status = observe_nic(host, node, ifname).status
    show_allocation(status, unallocated(status))
    return status


def observe_nic(host: Host, node: str, ifname: str) -> NicObservation:
    """Everything the NIC table shows about one PF but its allocation (allocation.py adds that)."""
    sysfs = host.sysfs
    vendor_id = _hex_id(sysfs.read(paths.net_device(ifname, "vendor")))
    device_id = _hex_id(sysfs.read(paths.net_device(ifname, "device")))
    model = host.pci_ids.device(vendor_id, device_id) if vendor_id and device_id else None
    driver = _basename(sysfs.readlink(paths.net_device(ifname, "driver")))
    # sriov_totalvfs exists only for functions with an SR-IOV capability.
    total = _int(sysfs.read(paths.net_device(ifname, "sriov_totalvfs"))) or 0
    num = _int(sysfs.read(paths.net_device(ifname, "sriov_numvfs"))) or 0
    settings = host.netlink.vfs(ifname) if num > 0 and driver else []
    observed = vfs_of(host, ifname, settings, pf_bound=driver is not None)
    vfs = [vf for vf, _ in observed]
    virtualization: Virtualization = (
        "NotVirtualizable" if total == 0 else "Virtualized" if num > 0 or vfs else "Virtualizable"
    )
    state: NicState = "VFsLost" if any(vf.health == "Lost" for vf in vfs) else virtualization
    pci = _basename(sysfs.resolve(paths.net_device(ifname))) or ""
    status = SriovPhysicalNicStatus(
        node_name=node,
        interface=ifname,
        pci_address=pci,
        vendor_id=vendor_id,
        device_id=device_id,
        vendor=host.pci_ids.vendor(vendor_id) if vendor_id else None,
        model=model or f"{vendor_id}:{device_id}",
        driver=driver,
        link=link_state(sysfs, ifname),
        speed_mbps=speed_mbps(sysfs, ifname),
        virtualization=virtualization,
        state=state,
        total_vfs=total,
        num_vfs=num,
        resource_name=resource_name(ifname),
        bond=bond_of(sysfs, ifname),
        vfs=vfs,
    )
    status.conditions = set_condition(
        [], NicConditionType.PRESENT, "True", NicReason.DISCOVERED, f"{ifname} found at PCI address {pci}."
    )
    return NicObservation(status, {facts.pci: facts for _, facts in observed})


def discover_nics(host: Host, node: str) -> list[SriovPhysicalNicStatus]:
    """One status per physical NIC of this host, sorted by interface name."""
    return [describe_nic(host, node, ifname) for ifname in physical_interfaces(host.sysfs)]


def driverless_pfs(sysfs: Sysfs) -> list[str]:
    """PCI addresses of SR-IOV capable functions that no driver holds.

    When a PF's driver is unbound its remove() disables SR-IOV (pci_disable_sriov: every VF
    device goes) and unregisters the netdev, so the NIC drops out of class/net and of
    physical_interfaces(). What remains is the PCI function with `sriov_totalvfs` and no
    `driver` link: the runtime matches it to its SriovPhysicalNic by pciAddress (VFsLost).
    """
    return [
        address
        for address in sysfs.listdir(paths.PCI_DEVICES)
        if sysfs.exists(paths.pci(address, "sriov_totalvfs"))
        and sysfs.readlink(paths.pci(address, "driver")) is None
    ]
