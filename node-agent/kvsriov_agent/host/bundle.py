"""The Host bundle: every host interface the agent uses, built once in the entry point."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kvsriov_agent.host.files import FileProcFs, FileSysfs
from kvsriov_agent.host.interfaces import KernelLog, Netlink, ProcFs, Sysfs
from kvsriov_agent.host.kernel_log import KmsgKernelLog
from kvsriov_agent.host.netlink import Pyroute2Netlink
from kvsriov_agent.host.pci_ids import PciIds


@dataclass(frozen=True)
class Host:
    """What the probe and discovery read; the real host, a test tree or the simulated host."""

    sysfs: Sysfs
    procfs: ProcFs
    kernel_log: KernelLog
    netlink: Netlink
    pci_ids: PciIds


def real_host(root: Path = Path("/"), pci_ids: PciIds | None = None) -> Host:
    """The host under `root`: sysfs, procfs and /dev/kmsg there; netlink in our own namespace."""
    return Host(
        sysfs=FileSysfs(root),
        procfs=FileProcFs(root),
        kernel_log=KmsgKernelLog(root),
        netlink=Pyroute2Netlink(),
        pci_ids=pci_ids if pci_ids is not None else PciIds.system(),
    )
