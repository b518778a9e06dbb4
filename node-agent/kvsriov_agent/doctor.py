"""`kvsriov doctor`: can this host give VFs to VMs, and if not, what to do (DESIGN §6).

Read-only. The facts and the advice are the node agent's own (probe.py's conditions, discovery
of the NICs), so the doctor and the SriovHost status never disagree; what it adds is the
vfio-pci driver, which the agent only meets when it binds a VF, and one verdict with an exit
status for scripts and first-run checks.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    titles: dict[str, str] = {
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


class CannotCheck(Exception):
    """The host cannot be examined (no sysfs or procfs under the root): exit 2, not a verdict."""


def check_root(root: Path) -> None:
    """A Linux host's root has /sys and a readable /proc/cmdline; anything else is no answer."""
    if not (root / paths.SYS).is_dir():
        raise CannotCheck(
            f"{root / paths.SYS} is not a directory: not a Linux host's root "
            "(in a container, mount the host's / and pass --host-root)"
        )
    try:
        (root / paths.PROC / paths.CMDLINE).read_text()
    except OSError as exc:
        raise CannotCheck(f"cannot read the kernel arguments: {exc}") from exc


@dataclass(frozen=True)
class Diagnosis:
    """What the doctor found on one node: the agent's own statuses and the findings drawn from them."""

    node: str
    host: SriovHostStatus
    nics: list[SriovPhysicalNicStatus]
    findings: list[Finding]

    @property
    def blocking(self) -> list[str]:
        return [f.check for f in self.findings if f.passed is False]

    @property
    def verdict(self) -> str:
        if self.blocking:
            return f"cannot give VFs to VMs yet ({', '.join(self.blocking)})"
        return "ready to give VFs to VMs"

    def to_json(self) -> dict[str, Any]:
        """The text report as data; `sriovHost` and `sriovPhysicalNics` are `agent probe -o json`'s."""
        return {
            "node": self.node,
            "ready": not self.blocking,
            "verdict": self.verdict,
            "blocking": self.blocking,
            "findings": [
                {"check": f.check, "result": RESULTS[f.passed], "detail": f.detail, "fix": f.fix}
                for f in self.findings
            ],
            **status_document(self.host, self.nics),
        }


RESULTS = {True: "ok", False: "fail", None: "note"}


def status_document(host: SriovHostStatus, nics: list[SriovPhysicalNicStatus]) -> dict[str, Any]:
    """The statuses as the agent writes them (the API's field names), for `-o json`."""
    return {"sriovHost": host.to_api(), "sriovPhysicalNics": [nic.to_api() for nic in nics]}


def diagnose(host: Host, node: str) -> Diagnosis:
    status, nics = probe_host(host), discover_nics(host, node)
    return Diagnosis(node, status, nics, [*host_findings(status), vfio_finding(host), *nic_findings(nics)])


def finding_lines(findings: list[Finding]) -> list[str]:
    """One line per finding, and its fix under it (`kvsriov doctor --cluster` prints the same way)."""
    lines = []
    for finding in findings:
        lines.append(f"  [{MARKS[finding.passed]}] {finding.check}: {finding.detail}")
        if finding.fix:
            lines.append(f"         fix: {finding.fix}")
    return lines


def report(diagnosis: Diagnosis) -> str:
    lines = [f"kvsriov doctor: {diagnosis.node}", *finding_lines(diagnosis.findings)]
    return "\n".join([*lines, f"verdict: {diagnosis.verdict}"])


EXIT_READY, EXIT_NOT_READY, EXIT_CANNOT_CHECK = 0, 1, 2


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="kvsriov doctor",
        description=__doc__.splitlines()[0] if __doc__ else None,
        epilog="exit status: 0 ready, 1 not ready (each FAIL says what to fix), 2 could not check",
    )
    parser.add_argument("--host-root", default="/", help="the host's root directory (default: /)")
    parser.add_argument("--pci-ids", help="the PCI ID database (default: the distribution's pci.ids)")
    parser.add_argument(
        "-o", "--output", choices=("text", "json"), default="text", help="text for people, json for scripts"
    )
    args = parser.parse_args(argv)
    node = socket.gethostname()
    root = Path(args.host_root)
    try:
        check_root(root)
        pci_ids = PciIds(Path(args.pci_ids)) if args.pci_ids else None
        diagnosis = diagnose(real_host(root, pci_ids=pci_ids), node)
    except (CannotCheck, OSError) as exc:
        if args.output == "json":
            print(json.dumps({"node": node, "ready": None, "verdict": f"could not check: {exc}"}, indent=2))
        else:
            print(f"kvsriov doctor: {node}\nverdict: could not check: {exc}", file=sys.stderr)
        return EXIT_CANNOT_CHECK
    print(json.dumps(diagnosis.to_json(), indent=2) if args.output == "json" else report(diagnosis))
    return EXIT_NOT_READY if diagnosis.blocking else EXIT_READY


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
