"""Resetting a freed VF on the real kernel: QEMU's igb (82576) VFs on vfio-pci, real rtnetlink.

The VF is configured on the PF as sriov-cni's ADD does it (ip link set PF vf N vlan/mac/spoofchk/
trust), its pod goes away (the allocation view no longer holds it), and the agent's reset rule
(vfreset.py, through KernelNetlink: pyroute2 writes, host/rtnetlink.py reads) puts it back to what
the igb driver gave it at slicing. The PF is left at 0 VFs, as every hil test leaves it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kvsriov.hosttypes import VfInfo
from kvsriov_agent.allocation import AllocationView
from kvsriov_agent.binding import bind_vfs
from kvsriov_agent.discovery import discover_nics
from kvsriov_agent.host.bundle import Host, real_host
from kvsriov_agent.slicing import apply_numvfs, current_numvfs, vf_addresses
from kvsriov_agent.vfreset import FreedVfs, differences

pytestmark = pytest.mark.hil
VM = "VM default/vm1"


@pytest.fixture(scope="module")
def host() -> Host:
    return real_host(Path("/"))


@pytest.fixture
def igb_vfio(host: Host) -> Iterator[tuple[str, dict[int, str]]]:
    """The first igb PF sliced into 2 VFs on vfio-pci: (interface, VF index -> PCI address)."""
    pf = next(n for n in discover_nics(host, "guest") if n.driver == "igb")
    assert pf.interface and pf.num_vfs == 0, f"{pf.interface} left at {pf.num_vfs} VFs by an earlier test"
    try:
        apply_numvfs(host, pf.pci_address, [2])
        bind_vfs(host, pf.pci_address, "vfio-pci")
        yield pf.interface, vf_addresses(host.sysfs, pf.pci_address)
    finally:
        if current_numvfs(host.sysfs, pf.pci_address):
            apply_numvfs(host, pf.pci_address, [0])


def test_igb_reports_the_sliced_state(host: Host, igb_vfio: tuple[str, dict[int, str]]) -> None:
    """What the rule restores is what igb_vf_configure gives a new VF, as the kernel reports it."""
    ifname, _ = igb_vfio
    assert host.netlink.vfs(ifname) == [VfInfo(i, None, None, spoofchk=True, trust=False) for i in (0, 1)]


def test_a_freed_vf_is_reset_through_rtnetlink(host: Host, igb_vfio: tuple[str, dict[int, str]]) -> None:
    ifname, pcis = igb_vfio
    state = FreedVfs()
    held = AllocationView(frozenset(pcis.values()), {pcis[0]: VM})
    assert state.step(host.netlink, ifname, held, pcis) == []
    # sriov-cni's ADD for a NAD with vlan 100, vlanQoS 2, spoofchk off, trust on and the VM's MAC:
    host.netlink.set_vf(ifname, 0, vlan=100, qos=2)
    host.netlink.set_vf(ifname, 0, mac="02:00:00:00:00:10", spoofchk=False, trust=True)
    used = host.netlink.vfs(ifname)[0]
    assert used == VfInfo(0, "02:00:00:00:00:10", 100, qos=2, spoofchk=False, trust=True)
    # The pod is gone (its DEL failed: sriov-cni PR 346); the next pass sees VF 0 free.
    (outcome,) = state.step(host.netlink, ifname, AllocationView(frozenset(pcis.values())), pcis)
    assert outcome.failed == {}, outcome.message()
    assert set(outcome.reset.changes) == {"vlan", "qos", "mac", "spoofchk", "trust"}
    restored = host.netlink.vfs(ifname)
    assert [differences(vf) for vf in restored] == [{}, {}]
    assert restored[0] == VfInfo(0, None, None, spoofchk=True, trust=False)
    nic = next(n for n in discover_nics(host, "guest") if n.interface == ifname)
    assert [(vf.mac, vf.vlan) for vf in nic.vfs] == [(None, None), (None, None)]
