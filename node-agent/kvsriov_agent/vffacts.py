"""What sysfs and /dev say about one VF, read once per pass and shared by everything that asks.

Discovery (the status's vfs[]), the device plugin (health, NUMA node and IOMMU group of each
device) and binding (is the VF already where spec.vfDriver wants it) all need the same few
facts; reading them once keeps a pass at one sysfs walk per VF, and gives the three of them
one answer even while the kernel changes underneath.

Kernel facts: `driver` links to the bound driver (none when unbound); `iommu_group` exists only
with an active IOMMU; vfio-pci creates `/dev/vfio/<group>` when it binds a device of the group
(the legacy group API; Debian's 6.12 has no IOMMUFD); a netdev driver registers `net/<ifname>`;
`numa_node` is -1 when the firmware reports no affinity.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Final, Literal

from kvsriov_agent.host import paths
from kvsriov_agent.host.bundle import Host

VfDriver = Literal["vfio-pci", "netdevice"]
VFIO_PCI: Final = "vfio-pci"


def _basename(link: str | None) -> str | None:
    return posixpath.basename(link.rstrip("/")) if link else None


@dataclass(frozen=True)
class VfFacts:
    """One VF as the kernel shows it now."""

    pci: str
    driver: str | None
    group: str | None
    numa: int | None
    vfio_node: bool
    netdev: bool

    def usable(self, wanted: VfDriver) -> bool:
        """On vfio-pci with its /dev/vfio group node, or on a netdev driver with its netdev."""
        if wanted == VFIO_PCI:
            return self.driver == VFIO_PCI and self.group is not None and self.vfio_node
        return self.driver not in (None, VFIO_PCI) and self.netdev


def vf_driver(host: Host, vf_pci: str) -> str | None:
    """The driver bound to a PCI function (`driver` link), None when unbound."""
    return _basename(host.sysfs.readlink(paths.pci(vf_pci, "driver")))


def iommu_group(host: Host, vf_pci: str) -> str | None:
    """The function's IOMMU group number (`iommu_group` link); None without an active IOMMU."""
    return _basename(host.sysfs.readlink(paths.pci(vf_pci, "iommu_group")))


def numa_node(host: Host, pci: str) -> int | None:
    """`cat /sys/bus/pci/devices/PCI/numa_node`; -1 (no affinity) and absent both mean None."""
    text = host.sysfs.read(paths.pci(pci, "numa_node"))
    try:
        value = int(text) if text is not None else -1
    except ValueError:
        return None
    return value if value >= 0 else None


def read_vf(host: Host, vf_pci: str) -> VfFacts:
    driver = vf_driver(host, vf_pci)
    group = iommu_group(host, vf_pci)
    return VfFacts(
        pci=vf_pci,
        driver=driver,
        group=group,
        numa=numa_node(host, vf_pci),
        vfio_node=driver == VFIO_PCI and group is not None and host.devfs.exists(f"{paths.DEV_VFIO}/{group}"),
        netdev=driver not in (None, VFIO_PCI) and bool(host.sysfs.listdir(paths.pci(vf_pci, "net"))),
    )
