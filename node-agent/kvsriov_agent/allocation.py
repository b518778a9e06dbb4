"""Which VFs of a PF are free: the one rule behind vfs[].allocated/owner, vfsAvailable and InUse.

The device plugins know what the kubelet allocated and which devices are healthy to it; the
reconciler alone writes the status, so the plugins hand it this view and `show_allocation`
puts it into the status. Without device plugins (`--no-device-plugin`, `agent probe`,
`doctor`) every VF on a driver is free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kvsriov.api.nic import SriovPhysicalNicStatus


@dataclass(frozen=True)
class AllocationView:
    """The VFs the kubelet may hand out (healthy) and those it did, with who holds each."""

    healthy: frozenset[str]
    #: PCI address -> the VM (or pod) holding it, as namespace/name.
    owners: Mapping[str, str] = field(default_factory=dict)
    #: Given out by an Allocate that the kubelet does not list yet: its pod is starting.
    handing_out: frozenset[str] = frozenset()


def unallocated(status: SriovPhysicalNicStatus) -> AllocationView:
    """No device plugin: every VF bound to a driver of its PF counts as free."""
    return AllocationView(frozenset(vf.pci_address for vf in status.vfs if vf.health == "Healthy"))


def show_allocation(status: SriovPhysicalNicStatus, view: AllocationView) -> None:
    for vf in status.vfs:
        vf.allocated = vf.pci_address in view.owners
        vf.owner = view.owners.get(vf.pci_address)
    status.vfs_available = sum(1 for vf in status.vfs if vf.pci_address in view.healthy and not vf.allocated)
    if any(vf.allocated for vf in status.vfs) and status.state == "Virtualized":
        status.state = "InUse"
    status.vfs_summary = f"{status.vfs_available}/{status.num_vfs}"
