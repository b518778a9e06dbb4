"""Slicing, VF binding and VF settings on the real kernel: QEMU's igb (82576, 7 VFs) behind VT-d.

The agent's own functions (slicing.py, binding.py, KernelNetlink: VF settings written with
pyroute2 and read back by host/rtnetlink.py) against the guest's sysfs, /dev and rtnetlink,
unmodified. Every test leaves the PF at 0 VFs, since all hil tests share one guest.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from kvsriov_agent.binding import bind_vfs, iommu_group, vf_driver, vf_driver_ok
from kvsriov_agent.discovery import discover_nics
from kvsriov_agent.host.bundle import Host, real_host
from kvsriov_agent.slicing import apply_numvfs, current_numvfs, plan_numvfs, vf_addresses

pytestmark = pytest.mark.hil

IGB_TOTAL_VFS = 7


@pytest.fixture(scope="module")
def host() -> Host:
    return real_host(Path("/"))


@pytest.fixture
def igb(host: Host) -> Iterator[tuple[str, str]]:
    """(interface, PCI address) of the first igb PF, found at 0 VFs and put back to 0 afterwards."""
    pf = next(n for n in discover_nics(host, "guest") if n.driver == "igb")
    assert pf.interface and pf.num_vfs == 0, f"{pf.interface} left at {pf.num_vfs} VFs by an earlier test"
    try:
        yield pf.interface, pf.pci_address
    finally:
        if current_numvfs(host.sysfs, pf.pci_address):
            apply_numvfs(host, pf.pci_address, [0])


def slice_to(host: Host, pci: str, total: int, desired: int) -> None:
    plan = plan_numvfs(current_numvfs(host.sysfs, pci), desired, total, {}, force=False)
    assert plan.refused is None, plan.refused
    apply_numvfs(host, pci, plan.steps)


def test_slice_to_7_bound_to_vfio_pci_with_groups(host: Host, igb: tuple[str, str]) -> None:
    ifname, pci = igb
    slice_to(host, pci, IGB_TOTAL_VFS, 7)
    vfs = vf_addresses(host.sysfs, pci)
    assert list(vfs) == list(range(7))
    assert all(vf_driver(host, vf) == "igbvf" for vf in vfs.values())  # the VF's own driver first
    bind_vfs(host, pci, "vfio-pci")
    groups = set()
    for vf in vfs.values():
        assert vf_driver_ok(host, vf, "vfio-pci")
        group = iommu_group(host, vf)
        groups.add(group)
        assert stat.S_ISCHR(os.stat(f"/dev/vfio/{group}").st_mode)
    assert len(groups) == 7  # each VF in its own IOMMU group
    nic = next(n for n in discover_nics(host, "guest") if n.interface == ifname)
    assert (nic.virtualization, nic.num_vfs) == ("Virtualized", 7)
    assert [vf.driver for vf in nic.vfs] == ["vfio-pci"] * 7
    # And back to the VF's own kernel driver (spec.vfDriver: netdevice).
    bind_vfs(host, pci, "netdevice")
    assert all(vf_driver(host, vf) == "igbvf" and vf_driver_ok(host, vf, "netdevice") for vf in vfs.values())
    assert not any(os.path.exists(f"/dev/vfio/{g}") for g in groups)


def test_vf_mac_and_vlan_through_netlink(host: Host, igb: tuple[str, str]) -> None:
    ifname, pci = igb
    slice_to(host, pci, IGB_TOTAL_VFS, 2)
    host.netlink.set_vf(ifname, 0, mac="02:00:00:00:00:10", vlan=100, spoofchk=False, trust=True)
    host.netlink.set_vf(ifname, 1, mac="02:00:00:00:00:11", vlan=200)
    read = {vf.index: (vf.mac, vf.vlan) for vf in host.netlink.vfs(ifname)}
    assert read == {0: ("02:00:00:00:00:10", 100), 1: ("02:00:00:00:00:11", 200)}
    host.netlink.set_vf(ifname, 1, vlan=0)  # 0 clears the VLAN
    assert {vf.index: vf.vlan for vf in host.netlink.vfs(ifname)} == {0: 100, 1: None}
    nic = next(n for n in discover_nics(host, "guest") if n.interface == ifname)
    assert [(vf.mac, vf.vlan) for vf in nic.vfs] == [("02:00:00:00:00:10", 100), ("02:00:00:00:00:11", None)]


def test_7_to_3_goes_through_0(host: Host, igb: tuple[str, str]) -> None:
    _, pci = igb
    slice_to(host, pci, IGB_TOTAL_VFS, 7)
    with pytest.raises(OSError) as caught:
        host.sysfs.write(f"bus/pci/devices/{pci}/sriov_numvfs", "3")
    assert caught.value.errno == errno.EBUSY
    assert current_numvfs(host.sysfs, pci) == 7
    plan = plan_numvfs(7, 3, IGB_TOTAL_VFS, {}, force=False)
    assert plan.steps == [0, 3]
    apply_numvfs(host, pci, plan.steps)
    assert list(vf_addresses(host.sysfs, pci)) == [0, 1, 2]
    bind_vfs(host, pci, "vfio-pci")
    assert all(vf_driver_ok(host, vf, "vfio-pci") for vf in vf_addresses(host.sysfs, pci).values())


def test_restore_to_0_removes_the_vfs(host: Host, igb: tuple[str, str]) -> None:
    _, pci = igb
    slice_to(host, pci, IGB_TOTAL_VFS, 7)
    bind_vfs(host, pci, "vfio-pci")
    vfs = vf_addresses(host.sysfs, pci)
    groups = [iommu_group(host, vf) for vf in vfs.values()]
    slice_to(host, pci, IGB_TOTAL_VFS, 0)
    assert current_numvfs(host.sysfs, pci) == 0 and vf_addresses(host.sysfs, pci) == {}
    assert not any(host.sysfs.exists(f"bus/pci/devices/{vf}") for vf in vfs.values())
    assert not any(host.devfs.exists(f"vfio/{g}") for g in groups)


def test_numvfs_above_total_refused_by_plan_and_kernel(host: Host, igb: tuple[str, str]) -> None:
    _, pci = igb
    assert plan_numvfs(0, 8, IGB_TOTAL_VFS, {}, force=False).refused is not None
    with pytest.raises(OSError) as caught:
        host.sysfs.write(f"bus/pci/devices/{pci}/sriov_numvfs", "8")
    assert caught.value.errno == errno.ERANGE
