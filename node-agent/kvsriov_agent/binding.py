"""Binding VFs to the driver spec.vfDriver asks for (DESIGN §3 step 1).

Kernel facts (drivers/pci/pci-driver.c, pci-sysfs.c, drivers/vfio/):
- `driver_override` makes the PCI core match the device to that driver only; an empty
  write clears it, and the driver's own ID table matches again;
- `drivers/<d>/unbind` detaches the current driver; `drivers_probe` runs matching again
  (it reports success even when no driver took the device, so the result is checked);
- vfio-pci needs an IOMMU group and, once bound, the group's node `/dev/vfio/<group>`
  appears (the legacy group API: Debian's 6.12 has no IOMMUFD);
- a netdev driver (igbvf, ixgbevf, iavf...) registers the VF's `net/<ifname>`.
"""

from __future__ import annotations

from kvsriov_agent.host import paths
from kvsriov_agent.host.bundle import Host
from kvsriov_agent.slicing import vf_addresses
from kvsriov_agent.vffacts import VFIO_PCI, VfDriver, iommu_group, read_vf, vf_driver
from kvsriov_agent.waiting import poll

#: VfDriver, VFIO_PCI, vf_driver and iommu_group live in vffacts.py; callers keep importing them here.
__all__ = [
    "VFIO_PCI",
    "BindingError",
    "VfDriver",
    "bind_vf",
    "bind_vfs",
    "iommu_group",
    "vf_driver",
    "vf_driver_ok",
]

#: After drivers_probe: the probe is synchronous, but udev-less hosts and devtmpfs create
#: /dev/vfio/N as the driver registers the group; seconds at most even under TCG.
BIND_TIMEOUT_S = 15.0


class BindingError(Exception):
    """A VF that did not end up on the asked driver; the message names the VF and what is missing."""


def vf_driver_ok(host: Host, vf_pci: str, driver: VfDriver) -> bool:
    """The VF is usable as asked: on vfio-pci with its /dev/vfio group node, or on a netdev driver."""
    return read_vf(host, vf_pci).usable(driver)


def bind_vf(host: Host, vf_pci: str, driver: VfDriver, timeout: float = BIND_TIMEOUT_S) -> None:
    """Move one VF to `driver` (the sequence of TESTBED.md (g)); nothing is written when it is there."""
    if vf_driver_ok(host, vf_pci, driver):
        return
    if driver == VFIO_PCI and iommu_group(host, vf_pci) is None:
        raise BindingError(
            f"VF {vf_pci} has no IOMMU group: vfio-pci needs an active IOMMU "
            "(intel_iommu=on / amd_iommu=on, VT-d or AMD-Vi enabled in the BIOS)"
        )
    sysfs = host.sysfs
    # Empty override: the driver's own ID table matches again (the VF's igbvf/ixgbevf/iavf).
    sysfs.write(paths.pci(vf_pci, "driver_override"), VFIO_PCI if driver == VFIO_PCI else "\n")
    current = vf_driver(host, vf_pci)
    if current is not None:
        sysfs.write(paths.pci_driver(current, "unbind"), vf_pci)
    sysfs.write(paths.PCI_DRIVERS_PROBE, vf_pci)
    if not poll(lambda: vf_driver_ok(host, vf_pci, driver), timeout):
        now = vf_driver(host, vf_pci) or "no driver"
        want = "vfio-pci with its /dev/vfio group node" if driver == VFIO_PCI else "a netdev driver"
        raise BindingError(f"VF {vf_pci} is on {now} after {timeout:g} s, not on {want}")


def bind_vfs(host: Host, pf_pci: str, driver: VfDriver, timeout: float = BIND_TIMEOUT_S) -> None:
    """Every VF of the PF onto `driver`; idempotent (bound VFs are left alone)."""
    for vf_pci in vf_addresses(host.sysfs, pf_pci).values():
        bind_vf(host, vf_pci, driver, timeout)
