"""`kvsriov doctor`: its verdict, each finding and each fix, on host trees with the kernel's layout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agent_helpers import DATA, make_host

from kvsriov.sandbox.host.fixtures import no_intremap_host
from kvsriov.sandbox.host.tree import HostTree
from kvsriov_agent.doctor import diagnose, report


def with_vfio(tree: HostTree) -> HostTree:
    tree.write("sys/bus/pci/drivers/vfio-pci/bind", "")
    return tree


def by_check(tree: HostTree) -> dict[str, tuple[bool | None, str, str]]:
    return {f.check: (f.passed, f.detail, f.fix) for f in diagnose(make_host(tree), "node-1")}


def test_reference_host_is_ready(ref_tree: HostTree) -> None:
    findings = diagnose(make_host(with_vfio(ref_tree)), "node-1")
    checks = {f.check: f for f in findings}
    assert checks["IOMMU"].passed and "intel" in checks["IOMMU"].detail
    assert checks["interrupt remapping"].passed and "sysfs" in checks["interrupt remapping"].detail
    assert checks["vfio-pci driver"].passed
    assert checks["NIC em1"].passed and "0 of 63 VFs" in checks["NIC em1"].detail
    assert checks["NIC em3"].passed is None and "no SR-IOV" in checks["NIC em3"].detail
    assert report("node-1", findings).endswith("verdict: ready to give VFs to VMs")


def test_bare_host_fails_each_blocking_check_with_its_fix(tree: HostTree) -> None:
    checks = by_check(tree)
    assert checks["IOMMU"][0] is False and "intel_iommu=on" in checks["IOMMU"][2]
    assert checks["vfio-pci driver"][0] is False and "modprobe vfio-pci" in checks["vfio-pci driver"][2]
    assert checks["SR-IOV NICs"][0] is False and "firmware" in checks["SR-IOV NICs"][2]
    text = report("node-1", diagnose(make_host(tree), "node-1"))
    assert "verdict: cannot give VFs to VMs yet (IOMMU, vfio-pci driver, SR-IOV NICs)" in text


def test_no_interrupt_remapping_is_blocking_and_names_the_opt_in(tmp_path: Path) -> None:
    checks = by_check(with_vfio(no_intremap_host(tmp_path / "host")))
    passed, _, fix = checks["interrupt remapping"]
    assert passed is False and "allowUnsafeInterrupts" in fix and "security risk" in fix


def test_command_exit_status_is_the_verdict(ref_tree: HostTree, tmp_path: Path) -> None:
    bare = HostTree(tmp_path / "bare")
    bare.cmdline("BOOT_IMAGE=/vmlinuz ro")
    run = [sys.executable, "-m", "kvsriov.cli", "doctor", "--pci-ids", str(DATA / "pci.ids"), "--host-root"]
    ready = subprocess.run([*run, str(with_vfio(ref_tree).root)], capture_output=True, text=True, timeout=60)
    assert ready.returncode == 0 and "verdict: ready" in ready.stdout, ready.stdout + ready.stderr
    blocked = subprocess.run([*run, str(bare.root)], capture_output=True, text=True, timeout=60)
    assert blocked.returncode == 1 and "fix: run `modprobe vfio-pci`" in blocked.stdout, blocked.stdout
