"""Fixtures for the node agent's unit tests: host trees built under tmp_path, recorded inputs in data/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kvsriov.sandbox.host.netlink import RecordedNetlink
from kvsriov.sandbox.host.tree import HostTree, reference_host
from kvsriov_agent.host.bundle import Host
from kvsriov_agent.host.files import FileProcFs, FileSysfs
from kvsriov_agent.host.kernel_log import KmsgKernelLog
from kvsriov_agent.host.pci_ids import PciIds

DATA = Path(__file__).parent / "data"


def recorded_log(name: str) -> list[str]:
    """A recorded kernel log from data/, as lines."""
    return (DATA / name).read_text().splitlines()


def make_host(tree: HostTree, netlink: RecordedNetlink | None = None, pci_ids: Path | None = None) -> Host:
    """The agent's real file-based implementations over `tree`, recorded netlink, the test pci.ids."""
    return Host(
        sysfs=FileSysfs(tree.root),
        procfs=FileProcFs(tree.root),
        kernel_log=KmsgKernelLog(tree.root),
        netlink=netlink or RecordedNetlink(),
        pci_ids=PciIds(pci_ids if pci_ids is not None else DATA / "pci.ids"),
    )


@pytest.fixture
def tree(tmp_path: Path) -> HostTree:
    """An empty host root: no IOMMU, no NICs, an empty kernel command line."""
    t = HostTree(tmp_path / "host")
    t.cmdline("BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro")
    return t


@pytest.fixture
def ref_tree(tmp_path: Path) -> HostTree:
    """The reference host: VT-d with IR, 82599ES em1/em2 in bond0, I350 em3/em4 (em4 disconnected)."""
    return reference_host(tmp_path / "host")


@pytest.fixture
def recorded_netlink() -> RecordedNetlink:
    """VF settings of em1 as recorded in data/netlink-em1.json."""
    return RecordedNetlink(json.loads((DATA / "netlink-em1.json").read_text()))
