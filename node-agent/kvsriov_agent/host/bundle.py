"""The Host bundle: every host interface the agent uses, built once in the entry point."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kvsriov_agent.host.boot import FileBootConfig
from kvsriov_agent.host.files import FileDevFs, FileProcFs, FileSysfs
from kvsriov_agent.host.interfaces import BootConfig, DevFs, KernelLog, Modprobe, Netlink, ProcFs, Sysfs
from kvsriov_agent.host.kernel_log import KmsgKernelLog
from kvsriov_agent.host.modprobe import FileModprobe
from kvsriov_agent.host.netlink import KernelNetlink
from kvsriov_agent.host.pci_ids import PciIds


@dataclass(frozen=True)
class Host:
    """What the agent reads and changes; the real host, a test tree or the simulated host.

    The last three default to the real host's `/` so that read-only callers (probe,
    discovery tests) need not name them; whoever slices or binds passes them.
    """

    sysfs: Sysfs
    procfs: ProcFs
    kernel_log: KernelLog
    netlink: Netlink
    pci_ids: PciIds
    devfs: DevFs = field(default_factory=FileDevFs)
    boot_config: BootConfig = field(default_factory=FileBootConfig)
    modprobe: Modprobe = field(default_factory=FileModprobe)


def real_host(root: Path = Path("/"), pci_ids: PciIds | None = None, etc_root: Path | None = None) -> Host:
    """The host under `root`: sysfs, procfs, /dev there; netlink in our own namespace.

    `etc_root` moves the boot loader and modprobe.d files (default: `root`), e.g. to a
    writable directory where the host's root is read-only.
    """
    etc = etc_root if etc_root is not None else root
    return Host(
        sysfs=FileSysfs(root),
        procfs=FileProcFs(root),
        kernel_log=KmsgKernelLog(root),
        netlink=KernelNetlink(),
        pci_ids=pci_ids if pci_ids is not None else PciIds.system(),
        devfs=FileDevFs(root),
        boot_config=FileBootConfig(etc),
        modprobe=FileModprobe(etc, sys_root=Path(root) / "sys"),
    )
