"""The probe and discovery on the real kernel: Debian's kernel, QEMU's VT-d with IR, igb and e1000e.

Runs the agent's real implementations (files under /, /dev/kmsg, rtnetlink),
unmodified. KVSRIOV_HIL_IOMMU=no-intremap says the guest was booted with
`--iommu no-intremap` (ecap f42), where the probe must report no remapping.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kvsriov.api.conditions import find_condition
from kvsriov.api.nic import SriovPhysicalNicStatus
from kvsriov_agent.discovery import discover_nics
from kvsriov_agent.host.bundle import Host, real_host
from kvsriov_agent.host.kernel_log import KmsgKernelLog
from kvsriov_agent.probe import ir_from_kernel_log, ir_from_sysfs, probe_host

pytestmark = pytest.mark.hil

#: QEMU's igb is an 82576 (8086:10c9): 8 pools, one kept by the PF, so 7 VFs.
IGB_TOTAL_VFS = 7
REMAPS = os.environ.get("KVSRIOV_HIL_IOMMU", "on") != "no-intremap"


@pytest.fixture(scope="module")
def host() -> Host:
    return real_host(Path("/"))


@pytest.fixture(scope="module")
def nics(host: Host) -> dict[str, SriovPhysicalNicStatus]:
    return {n.interface or "": n for n in discover_nics(host, "guest")}


def test_intel_iommu_ready(host: Host) -> None:
    status = probe_host(host)
    assert status.iommu.vendor == "intel"
    assert status.iommu.enabled_in_kernel_args  # intel_iommu=on iommu=pt
    assert status.iommu.ready and status.iommu.groups >= 3
    cond = find_condition(status.conditions, "IOMMUReady")
    assert cond is not None and cond.status == "True"


def test_interrupt_remapping_from_sysfs(host: Host) -> None:
    ir = ir_from_sysfs(host.sysfs)
    assert ir is not None and ir.source == "sysfs"
    assert ir.supported is REMAPS
    status = probe_host(host)
    assert status.interrupt_remapping == ir
    ready = find_condition(status.conditions, "Ready")
    assert ready is not None and ready.status == ("True" if REMAPS else "False")


def test_interrupt_remapping_from_kernel_log() -> None:
    """/dev/kmsg still holds the boot's DMAR line; the reference rule must agree with sysfs."""
    lines = KmsgKernelLog(Path("/")).lines()
    assert any("DMAR: dmar0:" in line for line in lines)
    ir = ir_from_kernel_log(lines, "intel")
    assert ir is not None and (ir.supported, ir.source) == (REMAPS, "dmesg")


def igb_names(nics: dict[str, SriovPhysicalNicStatus]) -> list[str]:
    return [name for name, nic in nics.items() if nic.driver == "igb"]


def test_igb_pfs_virtualizable(nics: dict[str, SriovPhysicalNicStatus]) -> None:
    igb = igb_names(nics)
    assert igb, f"no igb PF among {list(nics)}"
    for name in igb:
        nic = nics[name]
        assert nic.virtualization == "Virtualizable"
        assert nic.total_vfs == IGB_TOTAL_VFS
        assert (nic.vendor_id, nic.device_id) == ("8086", "10c9")


def test_e1000e_not_virtualizable(nics: dict[str, SriovPhysicalNicStatus]) -> None:
    e1000e = [nic for nic in nics.values() if nic.driver == "e1000e"]
    assert len(e1000e) == 1
    assert e1000e[0].virtualization == "NotVirtualizable"
    assert e1000e[0].total_vfs == 0


@pytest.fixture
def two_vfs(host: Host, nics: dict[str, SriovPhysicalNicStatus]) -> Iterator[str]:
    """The first igb PF with 2 VFs, restored to 0 afterwards (all hil tests share one guest)."""
    pf = igb_names(nics)[0]
    path = f"class/net/{pf}/device/sriov_numvfs"
    host.sysfs.write(path, "2")
    try:
        yield pf
    finally:
        host.sysfs.write(path, "0")


def test_vfs_listed_with_netlink_settings(host: Host, two_vfs: str) -> None:
    """virtfnN links and IFLA_VFINFO_LIST of a real igb PF (read back over rtnetlink by host/rtnetlink.py)."""
    link = host.netlink.link(two_vfs)
    assert link is not None and link.ifname == two_vfs and link.index > 1
    assert [vf.index for vf in host.netlink.vfs(two_vfs)] == [0, 1]
    nic = next(n for n in discover_nics(host, "guest") if n.interface == two_vfs)
    assert (nic.virtualization, nic.num_vfs, nic.total_vfs) == ("Virtualized", 2, IGB_TOTAL_VFS)
    assert [vf.index for vf in nic.vfs] == [0, 1]
    assert all(vf.pci_address and vf.driver == "igbvf" for vf in nic.vfs)
    # VFs are not physical NICs: their netdevs carry physfn and are skipped.
    assert all(n.driver != "igbvf" for n in discover_nics(host, "guest"))


def test_cli_probe_json() -> None:
    """`kvsriov agent probe -o json` as a user runs it: a fresh process, no API server."""
    kvsriov = Path(sys.executable).parent / "kvsriov"
    cmd = [str(kvsriov), "agent", "probe", "-o", "json"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    doc = json.loads(out)
    assert doc["sriovHost"]["iommu"]["vendor"] == "intel"
    assert doc["sriovHost"]["interruptRemapping"]["supported"] is REMAPS
    by_driver: dict[str, list[dict[str, SriovPhysicalNicStatus]]] = {}
    for nic in doc["sriovPhysicalNics"]:
        by_driver.setdefault(str(nic["driver"]), []).append(nic)
    assert all(n["virtualization"] == "Virtualizable" and n["totalVfs"] == 7 for n in by_driver["igb"])
    assert [n["virtualization"] for n in by_driver["e1000e"]] == ["NotVirtualizable"]
