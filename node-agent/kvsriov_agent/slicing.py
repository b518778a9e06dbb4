"""Slicing a PF into VFs and restoring it: plan (pure), then change and check (DESIGN §1 step 2, §4).

Kernel facts behind the plan (drivers/pci/iov.c, sriov_numvfs_store):
- a count above sriov_totalvfs is refused with ERANGE;
- writing the current count again is accepted and changes nothing;
- writing a non-zero count while another non-zero count is enabled is refused with
  EBUSY ("N VFs already enabled. Disable before enabling M VFs"), so a change between
  two non-zero counts goes through 0 — and destroys EVERY VF, not only the extra ones;
- a count the PF's IOV BAR window (sized by the firmware) or its bus range cannot hold is
  refused with ENOMEM (sriov_enable: "not enough MMIO resources for SR-IOV");
- the write returns once the PF driver's sriov_configure has added (or removed) the VF
  PCI devices, each linked from the PF as `virtfnN`.
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass, field

from kvsriov.api import nicrules
from kvsriov_agent.host import paths
from kvsriov_agent.host.bundle import Host
from kvsriov_agent.host.interfaces import Sysfs
from kvsriov_agent.waiting import poll

#: How long the VF devices may take to appear or vanish after a write. The write is synchronous
#: for igb/ixgbe (TESTBED.md: 7 VFs in 1.3 s, removal 2.9 s under TCG); the margin covers slower
#: PF drivers and a loaded host. Past it, something is wrong and a condition says so.
VF_APPEAR_TIMEOUT_S = 30.0

_VIRTFN = re.compile(r"^virtfn(\d+)$")


class SlicingError(Exception):
    """A numVfs change the kernel refused or did not finish; the message says what did not happen."""

    def __init__(self, message: str, errno_: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno_


@dataclass(frozen=True)
class SlicePlan:
    """What to write to sriov_numvfs, in order; or why not."""

    steps: list[int] = field(default_factory=list)
    refused: str | None = None
    lost: dict[int, str] = field(default_factory=dict)


def removed_vfs(current: int, desired: int) -> range:
    """VF indexes that a change from `current` to `desired` destroys (through 0: all of them)."""
    if current == 0 or desired == current:
        return range(0)
    if desired == 0 or current != desired:
        return range(current)  # non-zero -> non-zero goes through 0: every VF is recreated
    return range(0)


def plan_numvfs(current: int, desired: int, total_vfs: int, in_use: dict[int, str], force: bool) -> SlicePlan:
    """The writes that take a PF from `current` to `desired` VFs, or a refusal naming the limit or the VMs.

    `in_use` maps a VF index to its owner (e.g. `namespace/vm`); `force` lets a change remove them,
    and the plan's `lost` lists who lost a NIC.
    """
    limit = nicrules.num_vfs_refusal(desired, total_vfs)
    if limit:
        return SlicePlan(refused=f"{nicrules.FIELD}: {limit}")
    if desired == current:
        return SlicePlan()
    doomed = removed_vfs(current, desired)
    lost = {index: owner for index, owner in sorted(in_use.items()) if index in doomed}
    if lost and not force:
        owners = ", ".join(f"VF {index} ({owner})" for index, owner in lost.items())
        why = (
            "restoring to 0 removes every VF"
            if desired == 0
            else f"the kernel changes {current} to {desired} VFs only through 0, which removes every VF"
            if desired > current
            else f"shrinking from {current} to {desired} goes through 0, which removes every VF"
        )
        return SlicePlan(
            refused=f"spec.numVfs: {desired} refused: {why}, and these are in use by running VMs: "
            f"{owners}. Stop them (virtctl stop), or set spec.force: true to take the VFs away"
        )
    return SlicePlan(steps=numvfs_steps(current, desired), lost=lost)


def numvfs_steps(current: int, desired: int) -> list[int]:
    """The sriov_numvfs writes from `current` to `desired`: through 0 between two non-zero counts."""
    if desired == current:
        return []
    return [desired] if current == 0 or desired == 0 else [0, desired]


def vf_addresses(sysfs: Sysfs, pf_pci: str) -> dict[int, str]:
    """VF index -> PCI address, from the PF's `virtfnN` links."""
    result = {}
    for entry in sysfs.listdir(paths.pci(pf_pci)):
        match = _VIRTFN.match(entry)
        if match:
            target = sysfs.readlink(paths.pci(pf_pci, entry))
            result[int(match.group(1))] = (target or "").rstrip("/").rsplit("/", 1)[-1]
    return dict(sorted(result.items()))


def current_numvfs(sysfs: Sysfs, pf_pci: str) -> int:
    """`sriov_numvfs` of the PF: the VF count the PCI core has enabled (0 when unreadable)."""
    text = sysfs.read(paths.pci(pf_pci, "sriov_numvfs"))
    return int(text) if text and text.isdigit() else 0


def apply_numvfs(host: Host, pf_pci: str, steps: list[int], timeout: float = VF_APPEAR_TIMEOUT_S) -> None:
    """Write each step to sriov_numvfs and wait until exactly that many `virtfnN` links exist."""
    path = paths.pci(pf_pci, "sriov_numvfs")
    for step in steps:
        try:
            host.sysfs.write(path, str(step))
        except OSError as exc:
            hint = {
                errno.EBUSY: "the kernel changes a non-zero count only through 0",
                errno.ERANGE: "above sriov_totalvfs",
                errno.ENOENT: "no PF driver bound: the PF driver creates the VFs",
                errno.ENOMEM: "the PF's SR-IOV MMIO window or bus range holds fewer VFs (kernel log: "
                "'not enough MMIO resources for SR-IOV'); ask for fewer, or let the kernel re-size it "
                "(pci=realloc on the kernel command line, SR-IOV enabled in the firmware setup)",
            }.get(exc.errno or 0, exc.strerror or "")
            raise SlicingError(
                f"writing {step} to sriov_numvfs of {pf_pci} failed ({errno.errorcode.get(exc.errno or 0)}: "
                f"{hint})",
                exc.errno,
            ) from exc

        def settled(step: int = step) -> bool:
            sysfs = host.sysfs
            return len(vf_addresses(sysfs, pf_pci)) == step and current_numvfs(sysfs, pf_pci) == step

        if not poll(settled, timeout):
            found = len(vf_addresses(host.sysfs, pf_pci))
            raise SlicingError(
                f"{pf_pci}: sriov_numvfs accepted {step} but {found} VF devices (virtfn links) "
                f"exist after {timeout:g} s"
            )
