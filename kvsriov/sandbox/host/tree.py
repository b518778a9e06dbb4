"""Build a host's /sys, /proc and /dev/kmsg as real files and symlinks under a root.

The shapes follow the kernel: `class/net/<if>` links into the device tree,
`device` links to the PCI function, `subsystem` to `bus/pci`, `driver` to
`bus/pci/drivers/<name>`, `virtfnN` / `physfn` between PF and VFs, and
`iommu_group` to `kernel/iommu_groups/N`. Static for now: the kernel's write
semantics (sriov_numvfs EBUSY, VFs appearing) come with the slicing slice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PCI_ROOT = "devices/pci0000:00"


def _link(path: Path, target: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        path.unlink()
    os.symlink(target, path)


def _rel(src_dir: Path, dst: Path) -> str:
    return os.path.relpath(dst, src_dir)


#: Size of one VF's first BAR in the IOV window; 82599/82576 VFs have 16 KiB BARs (ixgbevf/igbvf).
VF_BAR_BYTES = 16 * 1024
#: The first IOV BAR's line in a PCI function's `resource` file (PCI_IOV_RESOURCES in linux/pci.h).
IOV_RESOURCE_LINE = 7


@dataclass
class HostTree:
    """A host root under `root`: call the builders, then point the agent's FileSysfs & co at `root`."""

    root: Path
    _groups: int = field(default=0)

    @property
    def sys(self) -> Path:
        return self.root / "sys"

    def write(self, rel: str, text: str) -> Path:
        """Write a file under the root (e.g. `proc/cmdline`), creating parents."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def cmdline(self, args: str) -> None:
        self.write("proc/cmdline", args + "\n")

    def kernel_log(self, lines: list[str]) -> None:
        """A saved kernel log at dev/kmsg (a regular file: KmsgKernelLog reads it whole)."""
        self.write("dev/kmsg", "".join(line + "\n" for line in lines))

    def iommu_unit(self, name: str, ecap: str | None = None) -> None:
        """`class/iommu/<name>` (dmarN or ivhdN); `ecap` becomes dmarN/intel-iommu/ecap."""
        dev = self.sys / "devices/virtual/iommu" / name
        dev.mkdir(parents=True, exist_ok=True)
        if ecap is not None:
            (dev / "intel-iommu").mkdir(exist_ok=True)
            (dev / "intel-iommu/ecap").write_text(ecap + "\n")
        _link(self.sys / "class/iommu" / name, _rel(self.sys / "class/iommu", dev))

    def module_param(self, module: str, name: str, value: str) -> None:
        """`module/<module>/parameters/<name>`: a loaded module's parameter (writable when mode 0644)."""
        self.write(f"sys/module/{module}/parameters/{name}", value + "\n")

    def iommu_group(self) -> int:
        """A new `kernel/iommu_groups/N`; returns N."""
        number = self._groups
        (self.sys / "kernel/iommu_groups" / str(number) / "devices").mkdir(parents=True, exist_ok=True)
        self._groups += 1
        return number

    def pci_function(
        self, address: str, vendor: str, device: str, driver: str | None, group: bool = True
    ) -> Path:
        """A PCI function under devices/pci0000:00, linked from bus/pci/devices, in its own IOMMU group."""
        dev = self.sys / PCI_ROOT / address
        dev.mkdir(parents=True, exist_ok=True)
        (dev / "vendor").write_text(f"0x{vendor}\n")
        (dev / "device").write_text(f"0x{device}\n")
        _link(dev / "subsystem", _rel(dev, self.sys / "bus/pci"))
        _link(self.sys / "bus/pci/devices" / address, _rel(self.sys / "bus/pci/devices", dev))
        if driver:
            drv = self.sys / "bus/pci/drivers" / driver
            drv.mkdir(parents=True, exist_ok=True)
            _link(dev / "driver", _rel(dev, drv))
            _link(drv / address, _rel(drv, dev))
        if group:
            grp = self.sys / "kernel/iommu_groups" / str(self.iommu_group())
            _link(dev / "iommu_group", _rel(dev, grp))
            _link(grp / "devices" / address, _rel(grp / "devices", dev))
        return dev

    def netdev(self, ifname: str, device_dir: Path | None, carrier: int | None = 1, speed: int = -1) -> Path:
        """`class/net/<ifname>`: under its device's `net/`, or devices/virtual/net without a device."""
        if device_dir is None:
            netdir = self.sys / "devices/virtual/net" / ifname
        else:
            netdir = device_dir / "net" / ifname
            _link(netdir / "device", _rel(netdir, device_dir))
        netdir.mkdir(parents=True, exist_ok=True)
        up = carrier is not None
        (netdir / "operstate").write_text(("up" if carrier else "down") + "\n")
        if up:
            (netdir / "carrier").write_text(f"{carrier}\n")
            (netdir / "speed").write_text(f"{speed if carrier else -1}\n")
        _link(self.sys / "class/net" / ifname, _rel(self.sys / "class/net", netdir))
        return netdir

    def nic(
        self,
        ifname: str,
        address: str,
        vendor: str,
        device: str,
        driver: str | None,
        total_vfs: int | None,
        carrier: int | None = 1,
        speed: int = 1000,
        numa: int = -1,
    ) -> Path:
        """A PF with its netdev; `total_vfs` None leaves out the SR-IOV capability (sriov_* files).

        `numa` is the function's `numa_node` (-1: the firmware reports no affinity).
        """
        dev = self.pci_function(address, vendor, device, driver)
        (dev / "numa_node").write_text(f"{numa}\n")
        if total_vfs is not None:
            (dev / "sriov_totalvfs").write_text(f"{total_vfs}\n")
            (dev / "sriov_numvfs").write_text("0\n")
        self.netdev(ifname, dev, carrier=carrier, speed=speed)
        return dev

    def iov_window(self, pf_address: str, vfs: int, vf_bar_bytes: int = VF_BAR_BYTES) -> None:
        """The PF's `resource` file with an IOV BAR (line 7, PCI_IOV_RESOURCES) sized for `vfs` VFs.

        What firmware that reserved too little SR-IOV MMIO leaves: the kernel then refuses larger
        counts with ENOMEM ("not enough MMIO resources for SR-IOV"). Lines are `start end flags`;
        a zero line is an unused resource.
        """
        start = 0xF0000000
        lines = ["0x0000000000000000 0x0000000000000000 0x0000000000000000"] * 13
        end = start + vfs * vf_bar_bytes - 1
        lines[IOV_RESOURCE_LINE] = f"0x{start:016x} 0x{end:016x} 0x0000000000140204"
        (self.sys / PCI_ROOT / pf_address / "resource").write_text("\n".join(lines) + "\n")

    def vfs(
        self, pf_address: str, vf_addresses: list[str], vendor: str, device: str, driver: str | None
    ) -> None:
        """VFs of a PF as the PCI core leaves them after `echo N > sriov_numvfs`."""
        pf = self.sys / PCI_ROOT / pf_address
        for index, address in enumerate(vf_addresses):
            vf = self.pci_function(address, vendor, device, driver)
            _link(pf / f"virtfn{index}", _rel(pf, vf))
            _link(vf / "physfn", _rel(vf, pf))
        (pf / "sriov_numvfs").write_text(f"{len(vf_addresses)}\n")

    def unbind(self, address: str) -> None:
        """The function's driver goes away (`echo ADDR > driver/unbind`)."""
        link = self.sys / PCI_ROOT / address / "driver"
        if link.is_symlink():
            link.unlink()

    def bond(self, master: str, members: list[str]) -> None:
        """A bonding master (virtual) with `bonding/slaves`, and `master` links on its members."""
        netdir = self.netdev(master, None)
        (netdir / "bonding").mkdir(exist_ok=True)
        (netdir / "bonding/slaves").write_text(" ".join(members) + "\n")
        for member in members:
            member_dir = (self.sys / "class/net" / member).resolve()
            _link(member_dir / "master", _rel(member_dir, netdir))


def reference_host(root: Path) -> HostTree:
    """The reference table's host: Intel VT-d with IR, 82599ES em1/em2 bonded, I350 em3/em4, lo."""
    tree = HostTree(root)
    tree.cmdline("BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro intel_iommu=on iommu=pt")
    tree.iommu_unit("dmar0", ecap="f050da")
    tree.iommu_unit("dmar1", ecap="f050da")
    tree.nic("em1", "0000:03:00.0", "8086", "10fb", "ixgbe", 63, speed=10000, numa=0)
    # Two DMAR units: a two-socket host; em2's NUMA node differs so that topology is observable.
    tree.nic("em2", "0000:03:00.1", "8086", "10fb", "ixgbe", 63, speed=10000, numa=1)
    tree.nic("em3", "0000:05:00.0", "8086", "1521", "igb", None)
    tree.nic("em4", "0000:05:00.1", "8086", "1521", "igb", None, carrier=0)
    tree.netdev("lo", None)
    tree.bond("bond0", ["em1", "em2"])
    return tree
