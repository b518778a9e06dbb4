"""Simulated hosts by name: the static trees of tree.py, loaded into a SimKernel."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from kvsriov.sandbox.host.memfs import MemFs
from kvsriov.sandbox.host.simkernel import SimKernel
from kvsriov.sandbox.host.tree import HostTree, reference_host


def testbed_host(root: Path) -> HostTree:
    """Like the QEMU test bed's guest: VT-d with IR, two 82576 (igb, 7 VFs) eth0/eth1, an 82574L eth2."""
    tree = HostTree(root)
    tree.cmdline("BOOT_IMAGE=/vmlinuz intel_iommu=on iommu=pt mitigations=off quiet")
    tree.iommu_unit("dmar0", ecap="f00f4a")
    tree.nic("eth0", "0000:01:00.0", "8086", "10c9", "igb", 7)
    tree.nic("eth1", "0000:02:00.0", "8086", "10c9", "igb", 7)
    tree.nic("eth2", "0000:03:00.0", "8086", "10d3", "e1000e", None)
    tree.netdev("lo", None)
    return tree


def no_intremap_host(root: Path) -> HostTree:
    """The reference host on VT-d units WITHOUT interrupt remapping (ecap bit 3 clear, like QEMU's
    `intremap=off`), with vfio_iommu_type1 loaded and allow_unsafe_interrupts at its default."""
    tree = reference_host(root)
    tree.iommu_unit("dmar0", ecap="f050d2")
    tree.iommu_unit("dmar1", ecap="f050d2")
    tree.module_param("vfio_iommu_type1", "allow_unsafe_interrupts", "N")
    return tree


def short_mmio_host(root: Path) -> HostTree:
    """The reference host whose firmware reserved SR-IOV MMIO for only 40 of em1's 63 VFs: the
    kernel refuses 41 and more with ENOMEM, as on servers whose BIOS sizes the IOV BARs short."""
    tree = reference_host(root)
    tree.iov_window("0000:03:00.0", 40)
    return tree


FIXTURES: dict[str, Callable[[Path], HostTree]] = {
    "reference": reference_host,
    "testbed": testbed_host,
    "no-intremap": no_intremap_host,
    "short-mmio": short_mmio_host,
}


def sim_kernel(fixture: str = "reference") -> SimKernel:
    """A SimKernel over a named fixture: 'reference' (82599ES em1/em2 bonded, I350 em3/em4),
    'testbed', 'no-intremap', 'short-mmio'."""
    if fixture not in FIXTURES:
        raise ValueError(f"unknown fixture {fixture!r}: choose from {', '.join(sorted(FIXTURES))}")
    fs = MemFs()
    with tempfile.TemporaryDirectory(prefix="kvsriov-simhost-") as staging:
        FIXTURES[fixture](Path(staging))
        fs.load(Path(staging))
    return SimKernel(fs)


def demo_host(root: Path) -> HostTree:
    """The reference host for `kvsriov demo`: as 'reference', but em1/em2 not bonded, so that the
    walk-through can slice em2 (the bond rule allows one sliced PF per bond) and show em1 unsliced."""
    tree = HostTree(root)
    tree.cmdline("BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro intel_iommu=on iommu=pt")
    tree.iommu_unit("dmar0", ecap="f050da")
    tree.iommu_unit("dmar1", ecap="f050da")
    tree.nic("em1", "0000:03:00.0", "8086", "10fb", "ixgbe", 63, speed=10000, numa=0)
    tree.nic("em2", "0000:03:00.1", "8086", "10fb", "ixgbe", 63, speed=10000, numa=1)
    tree.nic("em3", "0000:05:00.0", "8086", "1521", "igb", None)
    tree.nic("em4", "0000:05:00.1", "8086", "1521", "igb", None, carrier=0)
    tree.netdev("lo", None)
    return tree


FIXTURES["demo"] = demo_host
