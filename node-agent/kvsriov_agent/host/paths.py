"""Where the kernel and the distribution keep what the agent reads.

Paths are relative to a root (the host's `/`, a test tree, or the host's root
mounted into the agent's container), so no module joins an absolute path.
"""

from __future__ import annotations

from typing import Final

#: sysfs, mounted at /sys.
SYS: Final = "sys"
#: procfs, mounted at /proc.
PROC: Final = "proc"
#: The kernel's printk ring buffer as a character device (one record per read()).
DEV_KMSG: Final = "dev/kmsg"

# Below: relative to the sysfs mount.
#: One entry per network interface, a link into its device's tree.
CLASS_NET: Final = "class/net"
#: One entry per active IOMMU unit: dmarN (Intel VT-d) or ivhdN (AMD-Vi).
CLASS_IOMMU: Final = "class/iommu"
#: One directory per IOMMU group: exists only when an IOMMU translates DMA.
IOMMU_GROUPS: Final = "kernel/iommu_groups"
#: The VT-d extended capability register of a DMAR unit, hex without 0x.
INTEL_ECAP: Final = "intel-iommu/ecap"

# Below: relative to the procfs mount.
CMDLINE: Final = "cmdline"
MODULES: Final = "modules"

#: The PCI ID database: Debian/Ubuntu (package pci.ids), then Fedora/RHEL (hwdata).
#: Absolute: it belongs to the agent's own image, not to the probed host.
PCI_IDS_CANDIDATES: Final = ("/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids")


def net(ifname: str, attr: str = "") -> str:
    """`class/net/<ifname>[/<attr>]`, relative to the sysfs mount."""
    return f"{CLASS_NET}/{ifname}/{attr}" if attr else f"{CLASS_NET}/{ifname}"


def net_device(ifname: str, attr: str = "") -> str:
    """The PCI function behind an interface: `class/net/<ifname>/device[/<attr>]`."""
    return net(ifname, f"device/{attr}" if attr else "device")
