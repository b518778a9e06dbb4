"""`kvsriov doctor`: its verdict, each finding and each fix, on host trees with the kernel's layout."""

from __future__ import annotations

import json
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
    return {f.check: (f.passed, f.detail, f.fix) for f in diagnose(make_host(tree), "node-1").findings}


def test_reference_host_is_ready(ref_tree: HostTree) -> None:
    diagnosis = diagnose(make_host(with_vfio(ref_tree)), "node-1")
    checks = {f.check: f for f in diagnosis.findings}
    assert checks["IOMMU"].passed and "intel" in checks["IOMMU"].detail
    assert checks["interrupt remapping"].passed and "sysfs" in checks["interrupt remapping"].detail
    assert checks["vfio-pci driver"].passed
    assert checks["NIC em1"].passed and "0 of 63 VFs" in checks["NIC em1"].detail
    assert checks["NIC em3"].passed is None and "no SR-IOV" in checks["NIC em3"].detail
    assert report(diagnosis).endswith("verdict: ready to give VFs to VMs")


def test_bare_host_fails_each_blocking_check_with_its_fix(tree: HostTree) -> None:
    checks = by_check(tree)
    assert checks["IOMMU"][0] is False and "intel_iommu=on" in checks["IOMMU"][2]
    assert checks["vfio-pci driver"][0] is False and "modprobe vfio-pci" in checks["vfio-pci driver"][2]
    assert checks["SR-IOV NICs"][0] is False and "firmware" in checks["SR-IOV NICs"][2]
    text = report(diagnose(make_host(tree), "node-1"))
    assert "verdict: cannot give VFs to VMs yet (IOMMU, vfio-pci driver, SR-IOV NICs)" in text


def test_no_interrupt_remapping_is_blocking_and_names_the_opt_in(tmp_path: Path) -> None:
    checks = by_check(with_vfio(no_intremap_host(tmp_path / "host")))
    passed, _, fix = checks["interrupt remapping"]
    assert passed is False and "allowUnsafeInterrupts" in fix and "security risk" in fix


def test_command_exit_status_is_the_verdict(ref_tree: HostTree, tmp_path: Path) -> None:
    bare = HostTree(tmp_path / "bare")
    bare.cmdline("BOOT_IMAGE=/vmlinuz ro")
    bare.sys.mkdir()
    run = [sys.executable, "-m", "kvsriov.cli", "doctor", "--pci-ids", str(DATA / "pci.ids"), "--host-root"]
    ready = subprocess.run([*run, str(with_vfio(ref_tree).root)], capture_output=True, text=True, timeout=60)
    assert ready.returncode == 0 and "verdict: ready" in ready.stdout, ready.stdout + ready.stderr
    blocked = subprocess.run([*run, str(bare.root)], capture_output=True, text=True, timeout=60)
    assert blocked.returncode == 1 and "fix: run `modprobe vfio-pci`" in blocked.stdout, blocked.stdout


DOCTOR = [sys.executable, "-m", "kvsriov.cli", "doctor", "--pci-ids", str(DATA / "pci.ids")]


def doctor_json(root: Path) -> tuple[int, dict]:
    run = subprocess.run(
        [*DOCTOR, "-o", "json", "--host-root", str(root)], capture_output=True, text=True, timeout=60
    )
    return run.returncode, json.loads(run.stdout)


def test_json_says_what_the_text_says(tree: HostTree, tmp_path: Path) -> None:
    """Same checks, results, fixes and verdict as the text, and the same exit status."""
    tree.sys.mkdir(parents=True, exist_ok=True)
    code, doc = doctor_json(tree.root)
    text = subprocess.run(
        [*DOCTOR, "--host-root", str(tree.root)], capture_output=True, text=True, timeout=60
    )
    assert code == text.returncode == 1
    assert doc["ready"] is False and doc["blocking"] == ["IOMMU", "vfio-pci driver", "SR-IOV NICs"]
    assert f"verdict: {doc['verdict']}" in text.stdout
    marks = {"ok": "ok  ", "fail": "FAIL", "note": "note"}
    for finding in doc["findings"]:
        assert f"[{marks[finding['result']]}] {finding['check']}: {finding['detail']}" in text.stdout
        assert not finding["fix"] or f"fix: {finding['fix']}" in text.stdout


def test_json_ready_host_shares_the_probes_field_names(ref_tree: HostTree) -> None:
    root = with_vfio(ref_tree).root
    code, doc = doctor_json(root)
    assert code == 0 and doc["ready"] is True and doc["blocking"] == []
    assert doc["verdict"] == "ready to give VFs to VMs"
    probe = subprocess.run(
        [sys.executable, "-m", "kvsriov.cli", "agent", "probe", "-o", "json", "--node", "node-1",
         "--pci-ids", str(DATA / "pci.ids"), "--host-root", str(root)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    probed = json.loads(probe.stdout)
    assert doc["sriovHost"]["iommu"] == probed["sriovHost"]["iommu"]
    assert doc["sriovHost"]["iommu"]["vendor"] == "intel"
    assert [n["interface"] for n in doc["sriovPhysicalNics"]] == [
        n["interface"] for n in probed["sriovPhysicalNics"]
    ]
    assert {"pciAddress", "totalVfs", "numVfs"} <= set(doc["sriovPhysicalNics"][0])


def test_a_root_that_is_no_host_cannot_be_checked(tmp_path: Path) -> None:
    code, doc = doctor_json(tmp_path / "missing")
    assert code == 2 and doc["ready"] is None and "not a Linux host's root" in doc["verdict"]
    text = subprocess.run(
        [*DOCTOR, "--host-root", str(tmp_path / "missing")], capture_output=True, text=True, timeout=60
    )
    assert text.returncode == 2 and "could not check" in text.stderr and "--host-root" in text.stderr
