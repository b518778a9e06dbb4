"""`kvsriov doctor` on the real kernel: its findings match what this guest's kernel says.

In the default guest the IOMMU remaps interrupts; in `--iommu no-intremap`
(KVSRIOV_HIL_IOMMU=no-intremap) the doctor must say it does not, and name the opt-in.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kvsriov_agent.doctor import diagnose, report
from kvsriov_agent.host.bundle import real_host

pytestmark = pytest.mark.hil

REMAPS = os.environ.get("KVSRIOV_HIL_IOMMU", "on") != "no-intremap"


def test_doctor_interrupt_remapping_and_nics_on_the_real_kernel() -> None:
    diagnosis = diagnose(real_host(Path("/")), "guest")
    findings = diagnosis.findings
    checks = {f.check: f for f in findings}
    assert checks["IOMMU"].passed and "intel" in checks["IOMMU"].detail
    assert checks["interrupt remapping"].passed is REMAPS
    if not REMAPS:
        assert "allowUnsafeInterrupts" in checks["interrupt remapping"].fix
    assert checks["vfio-pci driver"].passed is os.path.isdir("/sys/bus/pci/drivers/vfio-pci")
    # QEMU's igb (82576) offers 7 VFs; the doctor reads it from the PF's sriov_totalvfs.
    assert any(f.check.startswith("NIC ") and f.passed and "of 7 VFs" in f.detail for f in findings), findings
    ready = REMAPS and checks["vfio-pci driver"].passed
    assert report(diagnosis).endswith("ready to give VFs to VMs") is bool(ready)
