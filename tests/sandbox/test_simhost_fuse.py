"""The agent's REAL file-based host access against the simulated host served over FUSE.

Skipped, with the reason, where FUSE cannot mount (no /dev/fuse, not root, no libfuse).
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path

import pytest

from kvsriov.sandbox.host.netlink import RecordedNetlink
from kvsriov.sandbox.host.simhost import fuse_unavailable, mount_sim_host
from kvsriov_agent.binding import bind_vfs, iommu_group, vf_driver, vf_driver_ok
from kvsriov_agent.discovery import discover_nics, driverless_pfs
from kvsriov_agent.host.bundle import Host
from kvsriov_agent.host.files import FileDevFs, FileProcFs, FileSysfs
from kvsriov_agent.host.kernel_log import KmsgKernelLog
from kvsriov_agent.host.pci_ids import PciIds
from kvsriov_agent.slicing import apply_numvfs, current_numvfs, plan_numvfs, vf_addresses

UNAVAILABLE = fuse_unavailable()
pytestmark = pytest.mark.skipif(UNAVAILABLE is not None, reason=f"needs FUSE: {UNAVAILABLE}")

PCI_IDS = Path(__file__).resolve().parents[1] / "unit" / "agent" / "data" / "pci.ids"
EM1 = "0000:03:00.0"


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    """The reference host mounted at tmp_path/root; the agent's own FileSysfs & co rooted there."""
    with mount_sim_host(tmp_path / "root", fixture="reference") as root:
        yield Host(
            sysfs=FileSysfs(root),
            procfs=FileProcFs(root),
            kernel_log=KmsgKernelLog(root),
            netlink=RecordedNetlink(),
            pci_ids=PciIds(PCI_IDS),
            devfs=FileDevFs(root),
        )


def test_write_3_then_5_is_ebusy_through_the_file_system(host: Host) -> None:
    path = f"bus/pci/devices/{EM1}/sriov_numvfs"
    host.sysfs.write(path, "3")
    with pytest.raises(OSError) as caught:
        host.sysfs.write(path, "5")
    assert caught.value.errno == errno.EBUSY == 16
    with pytest.raises(OSError) as above:
        host.sysfs.write(path, "64")
    assert above.value.errno == errno.ERANGE
    assert host.sysfs.read(path) == "3"
    assert len(host.sysfs.listdir(f"bus/pci/devices/{EM1}")) > 3


def test_apply_63_then_3_via_0(host: Host) -> None:
    apply_numvfs(host, EM1, plan_numvfs(0, 63, 63, {}, force=False).steps)
    assert len(vf_addresses(host.sysfs, EM1)) == 63
    plan = plan_numvfs(63, 3, 63, {}, force=False)
    assert plan.steps == [0, 3]
    apply_numvfs(host, EM1, plan.steps)
    assert current_numvfs(host.sysfs, EM1) == 3
    assert list(vf_addresses(host.sysfs, EM1)) == [0, 1, 2]


def test_bind_vfio_then_netdevice(host: Host) -> None:
    apply_numvfs(host, EM1, [3])
    bind_vfs(host, EM1, "vfio-pci")
    vfs = list(vf_addresses(host.sysfs, EM1).values())
    for vf in vfs:
        group = iommu_group(host, vf)
        assert vf_driver(host, vf) == "vfio-pci" and host.devfs.exists(f"vfio/{group}")
    bind_vfs(host, EM1, "vfio-pci")  # idempotent: nothing to do
    bind_vfs(host, EM1, "netdevice")
    for vf in vfs:
        assert vf_driver(host, vf) == "ixgbevf" and vf_driver_ok(host, vf, "netdevice")
        assert not host.devfs.exists(f"vfio/{iommu_group(host, vf)}")
    nic = next(n for n in discover_nics(host, "node-1") if n.interface == "em1")
    assert [vf.driver for vf in nic.vfs] == ["ixgbevf"] * 3


def test_pf_driver_unbind_visible_to_discovery(host: Host) -> None:
    apply_numvfs(host, EM1, [2])
    bind_vfs(host, EM1, "vfio-pci")
    groups = [iommu_group(host, vf) for vf in vf_addresses(host.sysfs, EM1).values()]
    assert all(host.devfs.exists(f"vfio/{g}") for g in groups)
    assert driverless_pfs(host.sysfs) == []
    host.sysfs.write("bus/pci/drivers/ixgbe/unbind", EM1)
    names = [n.interface for n in discover_nics(host, "node-1")]
    assert "em1" not in names and "em2" in names  # the netdev went with its driver
    assert driverless_pfs(host.sysfs) == [EM1]
    assert vf_addresses(host.sysfs, EM1) == {} and current_numvfs(host.sysfs, EM1) == 0
    assert not any(host.devfs.exists(f"vfio/{g}") for g in groups)  # the VFs went with SR-IOV
