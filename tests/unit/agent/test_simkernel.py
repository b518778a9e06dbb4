"""SimKernel without FUSE: the kernel semantics the simulated host promises (DESIGN §5)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from kvsriov.sandbox.host.fixtures import sim_kernel
from kvsriov.sandbox.host.memfs import MemFs
from kvsriov.sandbox.host.simkernel import SimKernel
from kvsriov.sandbox.host.tree import HostTree

EM1 = "sys/bus/pci/devices/0000:03:00.0"
NUMVFS = f"{EM1}/sriov_numvfs"


@pytest.fixture
def kernel() -> SimKernel:
    return sim_kernel("reference")


def errno_of(kernel: SimKernel, path: str, value: str) -> int | None:
    with pytest.raises(OSError) as caught:
        kernel.write(path, value)
    return caught.value.errno


def vf(kernel: SimKernel, index: int) -> str:
    return kernel.fs.resolve(f"{EM1}/virtfn{index}").rsplit("/", 1)[1]


def test_numvfs_creates_vfs_with_links_groups_and_drivers(kernel: SimKernel) -> None:
    kernel.write(NUMVFS, "3\n")
    assert kernel.read(NUMVFS) == "3\n"
    assert [vf(kernel, i) for i in range(3)] == ["0000:03:10.0", "0000:03:10.2", "0000:03:10.4"]
    first = f"sys/bus/pci/devices/{vf(kernel, 0)}"
    assert kernel.fs.resolve(f"{first}/physfn") == kernel.fs.resolve(EM1)
    assert kernel.read(f"{first}/device") == "0x10ed\n"  # 82599 Virtual Function
    assert kernel.fs.resolve(f"{first}/driver").endswith("drivers/ixgbevf")
    assert kernel.fs.listdir(f"{first}/net") == ["em1v0"]
    assert kernel.fs.exists("sys/class/net/em1v0/device/physfn")
    groups = {kernel.fs.resolve(f"sys/bus/pci/devices/{vf(kernel, i)}/iommu_group") for i in range(3)}
    assert len(groups) == 3  # each VF in its own IOMMU group
    assert not kernel.fs.exists(f"{EM1}/virtfn3")


def test_numvfs_nonzero_to_other_nonzero_is_ebusy_same_is_noop(kernel: SimKernel) -> None:
    kernel.write(NUMVFS, "3")
    assert errno_of(kernel, NUMVFS, "5") == errno.EBUSY
    assert "3 VFs already enabled. Disable before enabling 5 VFs" in kernel.log[-1]
    kernel.write(NUMVFS, "3")  # the same count: accepted, nothing changes
    assert kernel.read(NUMVFS) == "3\n" and vf(kernel, 0) == "0000:03:10.0"
    kernel.write(NUMVFS, "0")
    assert kernel.read(NUMVFS) == "0\n"
    assert not kernel.fs.exists(f"{EM1}/virtfn0") and not kernel.fs.exists("sys/class/net/em1v0")
    assert not kernel.fs.exists("sys/bus/pci/devices/0000:03:10.0")


def test_numvfs_limits(kernel: SimKernel) -> None:
    assert errno_of(kernel, NUMVFS, "64") == errno.ERANGE
    assert errno_of(kernel, NUMVFS, "many") == errno.EINVAL
    kernel.write(NUMVFS, "63")
    assert vf(kernel, 62) == "0000:03:1f.4"
    # I350 of the reference table: no SR-IOV capability, so no sriov_* attributes at all.
    assert not kernel.fs.exists("sys/bus/pci/devices/0000:05:00.0/sriov_numvfs")


def test_driver_override_unbind_probe_to_vfio_and_back(kernel: SimKernel) -> None:
    kernel.write(NUMVFS, "2")
    address = vf(kernel, 1)
    dev = f"sys/bus/pci/devices/{address}"
    group = kernel.fs.resolve(f"{dev}/iommu_group").rsplit("/", 1)[1]
    assert kernel.read(f"{dev}/driver_override") == "(null)\n"
    kernel.write(f"{dev}/driver_override", "vfio-pci\n")
    assert errno_of(kernel, "sys/bus/pci/drivers/vfio-pci/bind", address) == errno.EBUSY  # still bound
    kernel.write(f"{dev}/driver/unbind", address)
    assert not kernel.fs.exists(f"{dev}/driver") and not kernel.fs.exists("sys/class/net/em1v1")
    kernel.write("sys/bus/pci/drivers_probe", address)
    assert kernel.fs.resolve(f"{dev}/driver") == "sys/bus/pci/drivers/vfio-pci"
    assert kernel.fs.exists(f"dev/vfio/{group}")
    # Back to the VF's own driver: clear the override, unbind, probe.
    kernel.write(f"{dev}/driver_override", "\n")
    kernel.write("sys/bus/pci/drivers/vfio-pci/unbind", address)
    assert not kernel.fs.exists(f"dev/vfio/{group}")
    kernel.write("sys/bus/pci/drivers_probe", address)
    assert kernel.fs.resolve(f"{dev}/driver") == "sys/bus/pci/drivers/ixgbevf"
    assert kernel.fs.exists("sys/class/net/em1v1")


def test_bind_rules(kernel: SimKernel) -> None:
    kernel.write(NUMVFS, "1")
    address = vf(kernel, 0)
    kernel.write("sys/bus/pci/drivers/ixgbevf/unbind", address)
    # vfio-pci has no ID table: without driver_override it matches nothing.
    assert errno_of(kernel, "sys/bus/pci/drivers/vfio-pci/bind", address) == errno.ENODEV
    assert errno_of(kernel, "sys/bus/pci/drivers/ixgbevf/unbind", address) == errno.ENODEV
    assert errno_of(kernel, "sys/bus/pci/drivers_probe", "0000:99:00.0") == errno.EINVAL
    kernel.write("sys/bus/pci/drivers/ixgbevf/bind", address)
    assert kernel.fs.exists("sys/class/net/em1v0")


def test_vfio_without_iommu_group_fails_to_probe(tmp_path: Path) -> None:
    tree = HostTree(tmp_path)
    tree.pci_function("0000:01:00.0", "8086", "10c9", "igb", group=False)
    fs = MemFs()
    fs.load(tmp_path)
    kernel = SimKernel(fs)
    dev = "sys/bus/pci/devices/0000:01:00.0"
    kernel.write(f"{dev}/driver_override", "vfio-pci")
    kernel.write("sys/bus/pci/drivers/igb/unbind", "0000:01:00.0")
    kernel.write("sys/bus/pci/drivers_probe", "0000:01:00.0")  # accepted, like the kernel's
    assert not kernel.fs.exists(f"{dev}/driver")
    assert "failed with error -22" in kernel.log[-1]


def test_pf_driver_unbind_disables_sriov(kernel: SimKernel) -> None:
    kernel.write(NUMVFS, "2")
    address = vf(kernel, 0)
    kernel.write(f"sys/bus/pci/devices/{address}/driver_override", "vfio-pci")
    kernel.write(f"sys/bus/pci/devices/{address}/driver/unbind", address)
    kernel.write("sys/bus/pci/drivers_probe", address)
    assert kernel.fs.listdir("dev/vfio") != ["vfio"]
    kernel.write("sys/bus/pci/drivers/ixgbe/unbind", "0000:03:00.0")
    assert kernel.read(NUMVFS) == "0\n"
    assert not kernel.fs.exists(f"{EM1}/virtfn0") and not kernel.fs.exists(f"sys/bus/pci/devices/{address}")
    assert kernel.fs.listdir("dev/vfio") == ["vfio"]
    assert not kernel.fs.exists("sys/class/net/em1") and not kernel.fs.exists(f"{EM1}/driver")
    assert kernel.read(f"{EM1}/sriov_totalvfs") == "63\n"
    assert errno_of(kernel, NUMVFS, "2") == errno.ENOENT  # no PF driver: nobody creates VFs
    kernel.write("sys/bus/pci/drivers/ixgbe/bind", "0000:03:00.0")
    assert kernel.fs.exists("sys/class/net/em1/device/sriov_numvfs")


def test_iommu_group_ids_are_reused_lowest_first(kernel: SimKernel) -> None:
    kernel.write(NUMVFS, "2")
    before = [kernel.fs.resolve(f"{EM1}/virtfn{i}/iommu_group") for i in range(2)]
    kernel.write(NUMVFS, "0")
    kernel.write(NUMVFS, "2")
    assert [kernel.fs.resolve(f"{EM1}/virtfn{i}/iommu_group") for i in range(2)] == before
