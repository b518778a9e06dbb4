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
#: devtmpfs, mounted at /dev.
DEV: Final = "dev"
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

#: PCI functions by address, each a link into the device tree.
PCI_DEVICES: Final = "bus/pci/devices"
#: PCI drivers by name; each has `bind` and `unbind` (write a PCI address).
PCI_DRIVERS: Final = "bus/pci/drivers"
#: Write a PCI address: the PCI core probes the drivers that match it (honouring driver_override).
PCI_DRIVERS_PROBE: Final = "bus/pci/drivers_probe"
#: Loaded modules and their parameters.
SYS_MODULE: Final = "module"

# Below: relative to the /dev mount.
#: One node per IOMMU group that vfio-pci holds a device of (the legacy group API; no IOMMUFD).
DEV_VFIO: Final = "vfio"

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


def pci(address: str, attr: str = "") -> str:
    """`bus/pci/devices/<address>[/<attr>]`, relative to the sysfs mount."""
    return f"{PCI_DEVICES}/{address}/{attr}" if attr else f"{PCI_DEVICES}/{address}"


def pci_driver(driver: str, attr: str = "") -> str:
    """`bus/pci/drivers/<driver>[/<attr>]`, relative to the sysfs mount."""
    return f"{PCI_DRIVERS}/{driver}/{attr}" if attr else f"{PCI_DRIVERS}/{driver}"
