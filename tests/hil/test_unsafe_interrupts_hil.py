"""allow_unsafe_interrupts through the agent's FileModprobe, proven by VFIO itself on the real kernel.

With interrupt remapping (the default guest), VFIO_SET_IOMMU succeeds as is. With
`--iommu no-intremap` (KVSRIOV_HIL_IOMMU=no-intremap) vfio_iommu_type1 refuses it
with EPERM until the module parameter is set, which FileModprobe does live; the
modprobe.d file goes to tmp_path because the guest's root is read-only.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from kvsriov_agent.binding import bind_vfs, iommu_group
from kvsriov_agent.discovery import discover_nics
from kvsriov_agent.host.bundle import Host, real_host
from kvsriov_agent.host.modprobe import FileModprobe
from kvsriov_agent.slicing import apply_numvfs, vf_addresses

pytestmark = pytest.mark.hil

REMAPS = os.environ.get("KVSRIOV_HIL_IOMMU", "on") != "no-intremap"
MODULE, PARAM = "vfio_iommu_type1", "allow_unsafe_interrupts"


def _io(nr: int) -> int:
    """_IO(VFIO_TYPE ';', VFIO_BASE 100 + nr), include/uapi/linux/vfio.h."""
    return (ord(";") << 8) | (100 + nr)


SET_IOMMU, GROUP_SET_CONTAINER, GROUP_UNSET_CONTAINER, TYPE1V2 = _io(2), _io(4), _io(5), 3


def set_iommu_errno(group: str) -> int:
    """0 when a VFIO container takes the group and the type1v2 IOMMU, else the errno."""
    g = os.open(f"/dev/vfio/{group}", os.O_RDWR)
    c = os.open("/dev/vfio/vfio", os.O_RDWR)
    try:
        fcntl.ioctl(g, GROUP_SET_CONTAINER, struct.pack("i", c))
        try:
            fcntl.ioctl(c, SET_IOMMU, TYPE1V2)
            return 0
        except OSError as exc:
            return exc.errno or -1
        finally:
            fcntl.ioctl(g, GROUP_UNSET_CONTAINER)
    finally:
        os.close(c)
        os.close(g)


@pytest.fixture
def vfio_group() -> Iterator[tuple[Host, str]]:
    """One igb VF on vfio-pci; the PF back at 0 VFs afterwards."""
    host = real_host(Path("/"))
    pf = next(n for n in discover_nics(host, "guest") if n.driver == "igb")
    apply_numvfs(host, pf.pci_address, [1])
    try:
        bind_vfs(host, pf.pci_address, "vfio-pci")
        group = iommu_group(host, vf_addresses(host.sysfs, pf.pci_address)[0])
        assert group is not None
        yield host, group
    finally:
        apply_numvfs(host, pf.pci_address, [0])


def test_unsafe_interrupts_gate_vfio(vfio_group: tuple[Host, str], tmp_path: Path) -> None:
    _, group = vfio_group
    modprobe = FileModprobe(tmp_path, sys_root=Path("/sys"))
    assert modprobe.parameter(MODULE, PARAM) == "N"
    assert set_iommu_errno(group) == (0 if REMAPS else errno.EPERM)
    modprobe.set_options(MODULE, {PARAM: "1"})
    try:
        assert modprobe.parameter(MODULE, PARAM) == "Y"
        conf = (tmp_path / "etc/modprobe.d/kvsriov.conf").read_text()
        assert conf.endswith(f"options {MODULE} {PARAM}=1\n")
        assert set_iommu_errno(group) == 0
    finally:
        modprobe.set_options(MODULE, {})
    assert modprobe.parameter(MODULE, PARAM) == "N"
    assert not (tmp_path / "etc/modprobe.d/kvsriov.conf").exists()
    assert set_iommu_errno(group) == (0 if REMAPS else errno.EPERM)
