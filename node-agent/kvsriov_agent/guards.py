"""The refusals that come before touching sriov_numvfs (DESIGN §4), each returning a message or None.

Each guard names the fact behind it; the in-use check fails closed: when
the kubelet cannot be asked, nobody can tell which VFs are free.
"""

from __future__ import annotations

from kvsriov.api import nicrules
from kvsriov.api.constants import RESOURCE_PREFIX
from kvsriov.api.host import SriovHostStatus
from kvsriov.api.naming import nic_object_name
from kvsriov.api.nic import SriovPhysicalNicSpec, SriovPhysicalNicStatus
from kvsriov_agent.kube.client import Obj
from kvsriov_agent.objects import nic_status
from kvsriov_agent.podresources import PodResourcesClient
from kvsriov_agent.podresources.vms import vm_of_pod


def bond_conflict(status: SriovPhysicalNicStatus, nics: dict[str, Obj], desired: int) -> str | None:
    """Of a bond over several PFs only one may be sliced (kvsriov/api/nicrules.py, as the webhook)."""
    if status.bond is None:
        return None
    peers = []
    for name, obj in nics.items():
        other = nic_status(obj)
        if other is None or other.node_name != status.node_name or other.interface == status.interface:
            continue
        wanted = int(obj.get("spec", {}).get("numVfs", 0))
        master = other.bond.master if other.bond else None
        peers.append(nicrules.BondPeer(name, other.interface or name, master, max(other.num_vfs, wanted)))
    message = nicrules.bond_refusal(nic_object_name(status.node_name or "", status.interface or ""),
                                    status.bond.master, desired, peers)  # fmt: skip
    return f"{nicrules.FIELD}: {message}" if message else None


def interrupt_remapping_refusal(host: SriovHostStatus | None, allow_unsafe: bool, driver: str) -> str | None:
    """vfio refuses a device on a host without interrupt remapping unless allow_unsafe_interrupts is set
    (drivers/vfio/vfio_iommu_type1.c): binding would succeed and every VM start would then fail."""
    if driver != "vfio-pci" or allow_unsafe:
        return None
    if host is not None and host.interrupt_remapping.supported:
        return None
    return (
        "refusing to bind VFs to vfio-pci: this host's IOMMU does not remap interrupts (see the "
        "SriovHost InterruptRemapping condition); use a host with VT-d IR / AMD-Vi, or set "
        "spec.allowUnsafeInterrupts on the SriovHost (a security trade-off)"
    )


def vfs_in_use(status: SriovPhysicalNicStatus, client: PodResourcesClient) -> dict[int, str]:
    """VF index -> owning VM (or pod), from the kubelet; raises PodResourcesUnavailable.

    The kubelet's device IDs are the VF PCI addresses (our device plugin's IDs).
    """
    by_pci = {vf.pci_address: vf.index for vf in status.vfs}
    owners: dict[int, str] = {}
    for alloc in client.list_devices(RESOURCE_PREFIX + "/"):
        index = by_pci.get(alloc.device_id)
        if index is not None:
            owners[index] = vm_of_pod(alloc.namespace, alloc.pod)
    return owners


def drivers_differ(status: SriovPhysicalNicStatus, spec: SriovPhysicalNicSpec) -> bool:
    """Some VF is not on the driver spec.vfDriver asks for (netdevice: any kernel net driver)."""
    if spec.vf_driver == "vfio-pci":
        return any(vf.driver != "vfio-pci" for vf in status.vfs)
    return any(vf.driver in (None, "vfio-pci") for vf in status.vfs)
