"""`kvsriov doctor`: can this host give VFs to VMs, and if not, what to do (DESIGN §6).

Read-only. The facts and the advice are the node agent's own (probe.py's conditions, discovery
of the NICs), so the doctor and the SriovHost status never disagree; what it adds is the
vfio-pci driver, which the agent only meets when it binds a VF, and one verdict with an exit
status for scripts and first-run checks.
"""

from __future__ import annotations

import argparse
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from kvsriov.api.conditions import HostConditionType
from kvsriov.api.host import SriovHostStatus
from kvsriov.api.nic import SriovPhysicalNicStatus
from kvsriov_agent.binding import VFIO_PCI
from kvsriov_agent.discovery import discover_nics
from kvsriov_agent.host import paths
from kvsriov_agent.host.bundle import Host, real_host
from kvsriov_agent.host.pci_ids import PciIds
from kvsriov_agent.probe import probe_host

MARKS = {True: "ok  ", False: "FAIL", None: "note"}


@dataclass(frozen=True)
class Finding:
    """One check: passed (True), blocks VF NICs (False) or worth knowing (None); the fix when not passed."""

    passed: bool | None
    check: str
    detail: str
    fix: str = ""


def host_findings(status: SriovHostStatus) -> list[Finding]:
    """IOMMU and interrupt remapping, in the words of the conditions the agent writes."""
    out: list[Finding] = []
    titles = {
        HostConditionType.IOMMU_READY: "IOMMU",
        HostConditionType.INTERRUPT_REMAPPING: "interrupt remapping",
    }
    for condition in status.conditions:
        if condition.type not in titles:
            continue
        passed = {"True": True, "False": False}.get(condition.status)
        detail = (
            f"{status.iommu.vendor}, {status.iommu.groups} groups"
            if condition.type == HostConditionType.IOMMU_READY
            else f"evidence: {status.interrupt_remapping.source}"
        )
        out.append(
            Finding(
                passed,
                titles[condition.type],
                f"{condition.reason} ({detail})",
                "" if passed else condition.message,
            )
        )
    return out


def vfio_finding(host: Host) -> Finding:
    """vfio-pci bound, built in, or absent: VMs get VFs only through it."""
    if host.sysfs.exists(f"{paths.PCI_DRIVERS}/{VFIO_PCI}"):
        return Finding(True, "vfio-pci driver", "loaded")
    return Finding(
        False,
        "vfio-pci driver",
        "not loaded",
        "run `modprobe vfio-pci` and list vfio-pci in /etc/modules-load.d/ so that it loads at boot",
    )


def nic_findings(nics: list[SriovPhysicalNicStatus]) -> list[Finding]:
    out = [
        Finding(
            True if nic.total_vfs else None,
            f"NIC {nic.interface}",
            f"{nic.model or 'unknown model'} ({nic.pci_address}, driver {nic.driver or 'none'}): "
            + (f"SR-IOV, {nic.num_vfs} of {nic.total_vfs} VFs" if nic.total_vfs else "no SR-IOV"),
        )
        for nic in nics
    ]
    if not any(nic.total_vfs for nic in nics):
        out.append(
            Finding(
                False,
                "SR-IOV NICs",
                "none found",
                "enable SR-IOV in the firmware setup (system and NIC), or add an SR-IOV capable NIC",
            )
        )
    return out


def diagnose(host: Host, node: str) -> list[Finding]:
    return [*host_findings(probe_host(host)), vfio_finding(host), *nic_findings(discover_nics(host, node))]


def report(node: str, findings: list[Finding]) -> str:
    lines = [f"kvsriov doctor: {node}"]
    for finding in findings:
        lines.append(f"  [{MARKS[finding.passed]}] {finding.check}: {finding.detail}")
        if finding.fix:
            lines.append(f"         fix: {finding.fix}")
    blocking = [f.check for f in findings if f.passed is False]
    verdict = (
        f"cannot give VFs to VMs yet ({', '.join(blocking)})" if blocking else "ready to give VFs to VMs"
    )
    return "\n".join([*lines, f"verdict: {verdict}"])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="kvsriov doctor", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--host-root", default="/", help="the host's root directory (default: /)")
    parser.add_argument("--pci-ids", help="the PCI ID database (default: the distribution's pci.ids)")
    args = parser.parse_args(argv)
    pci_ids = PciIds(Path(args.pci_ids)) if args.pci_ids else None
    node = socket.gethostname()
    findings = diagnose(real_host(Path(args.host_root), pci_ids=pci_ids), node)
    print(report(node, findings))
    return 1 if any(f.passed is False for f in findings) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
