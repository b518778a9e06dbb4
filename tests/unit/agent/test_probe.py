"""The host probe's rules, each accepted and refused, on host trees shaped like the kernel's."""

from __future__ import annotations

import pytest
from agent_helpers import make_host, recorded_log

from kvsriov.api.conditions import find_condition
from kvsriov.api.host import SriovHostSpec
from kvsriov.sandbox.host.tree import HostTree
from kvsriov_agent.probe import ecap_has_ir, probe_host, probe_interrupt_remapping, probe_iommu


def intel(tree: HostTree, ecap: str | None = "f00f4a", groups: int = 3) -> None:
    tree.cmdline("BOOT_IMAGE=/vmlinuz ro intel_iommu=on iommu=pt")
    tree.iommu_unit("dmar0", ecap=ecap)
    for _ in range(groups):
        tree.iommu_group()


@pytest.mark.parametrize(
    ("ecap", "ir"),
    [("f00f4a", True), ("f42", False), ("f050da", True), ("8", True), ("7", False), ("F00F4A", True)],
)
def test_reference_rule_reads_bit_3(ecap: str, ir: bool) -> None:
    assert ecap_has_ir(ecap) is ir
    assert ecap_has_ir(ecap) is bool(int(ecap, 16) & (1 << 3))


def test_intel_ready_with_ir_from_sysfs(tree: HostTree) -> None:
    intel(tree)
    tree.kernel_log(recorded_log("dmesg-dmar-no-ir.txt"))  # sysfs wins over the log
    status = probe_host(make_host(tree))
    assert status.iommu.vendor == "intel"
    assert status.iommu.enabled_in_kernel_args and status.iommu.ready
    assert status.iommu.groups == 3
    assert (status.interrupt_remapping.supported, status.interrupt_remapping.source) == (True, "sysfs")
    for type_ in ("IOMMUReady", "InterruptRemapping", "Ready"):
        cond = find_condition(status.conditions, type_)
        assert cond is not None and cond.status == "True", type_


def test_no_ir_in_sysfs_refuses_ready_and_says_how_to_opt_in(tree: HostTree) -> None:
    intel(tree, ecap="f42")
    status = probe_host(make_host(tree))
    assert (status.interrupt_remapping.supported, status.interrupt_remapping.source) == (False, "sysfs")
    ir = find_condition(status.conditions, "InterruptRemapping")
    ready = find_condition(status.conditions, "Ready")
    assert ir is not None and ir.status == "False" and "spec.allowUnsafeInterrupts" in ir.message
    assert ready is not None and ready.status == "False" and ready.reason == "NoInterruptRemapping"


def test_no_ir_allowed_by_opt_in(tree: HostTree) -> None:
    intel(tree, ecap="f42")
    status = probe_host(make_host(tree), SriovHostSpec(allow_unsafe_interrupts=True))
    ready = find_condition(status.conditions, "Ready")
    assert ready is not None and ready.status == "True" and ready.reason == "UnsafeInterruptsAllowed"


@pytest.mark.parametrize(
    ("log", "supported"),
    [("dmesg-dmar-ir.txt", True), ("kmsg-dmar-ir.txt", True), ("dmesg-dmar-no-ir.txt", False)],
)
def test_ir_from_kernel_log_when_sysfs_lacks_ecap(tree: HostTree, log: str, supported: bool) -> None:
    intel(tree, ecap=None)  # older kernels have no intel-iommu/ecap attribute
    tree.kernel_log(recorded_log(log))
    status = probe_interrupt_remapping(make_host(tree), "intel")
    assert (status.supported, status.source) == (supported, "dmesg")


def test_ir_unknown_without_any_evidence(tree: HostTree) -> None:
    intel(tree, ecap=None)
    status = probe_host(make_host(tree))
    assert (status.interrupt_remapping.supported, status.interrupt_remapping.source) == (False, "unknown")
    cond = find_condition(status.conditions, "InterruptRemapping")
    assert cond is not None and cond.status == "Unknown"


def test_every_dmar_unit_must_remap(tree: HostTree) -> None:
    """The kernel enables IR only when all DRHD units support it (intel_irq_remap_supported)."""
    intel(tree)
    tree.iommu_unit("dmar1", ecap="f42")
    status = probe_interrupt_remapping(make_host(tree), "intel")
    assert (status.supported, status.source) == (False, "sysfs")


def test_amd_vi_from_kernel_log(tree: HostTree) -> None:
    tree.cmdline("BOOT_IMAGE=/vmlinuz ro")  # AMD-Vi is on by default
    tree.iommu_unit("ivhd0")
    tree.iommu_group()
    tree.kernel_log(recorded_log("dmesg-amd-vi.txt"))
    status = probe_host(make_host(tree))
    assert status.iommu.vendor == "amd"
    assert status.iommu.enabled_in_kernel_args and status.iommu.ready
    assert (status.interrupt_remapping.supported, status.interrupt_remapping.source) == (True, "dmesg")


def test_amd_without_ir_line_is_unknown(tree: HostTree) -> None:
    tree.iommu_unit("ivhd0")
    tree.iommu_group()
    tree.kernel_log(recorded_log("dmesg-dmar-no-ir.txt")[:2])
    status = probe_interrupt_remapping(make_host(tree), "amd")
    assert (status.supported, status.source) == (False, "unknown")


def test_no_iommu_tells_to_enable_it_in_bios_and_kernel_args(tree: HostTree) -> None:
    status = probe_host(make_host(tree))
    assert status.iommu.vendor == "none"
    assert not status.iommu.enabled_in_kernel_args and not status.iommu.ready
    cond = find_condition(status.conditions, "IOMMUReady")
    assert cond is not None and cond.status == "False" and cond.reason == "IOMMUNotEnabled"
    assert "BIOS" in cond.message and "intel_iommu=on" in cond.message
    assert "spec.configureKernelArgs" in cond.message and "reboot" in cond.message


def test_kernel_args_without_units_point_at_the_bios(tree: HostTree) -> None:
    tree.cmdline("BOOT_IMAGE=/vmlinuz ro intel_iommu=on iommu=pt")
    iommu = probe_iommu(make_host(tree))
    assert iommu.enabled_in_kernel_args and not iommu.ready
    cond = find_condition(probe_host(make_host(tree)).conditions, "IOMMUReady")
    assert cond is not None and cond.reason == "NoIOMMUUnits" and "BIOS" in cond.message


def test_units_without_groups_are_not_ready(tree: HostTree) -> None:
    intel(tree, groups=0)
    status = probe_host(make_host(tree))
    assert status.iommu.vendor == "intel" and not status.iommu.ready
    cond = find_condition(status.conditions, "IOMMUReady")
    assert cond is not None and cond.reason == "NoIOMMUGroups" and "reboot" in cond.message


def test_enabled_by_kernel_default_and_disabled_by_off(tree: HostTree) -> None:
    tree.iommu_unit("dmar0", ecap="f00f4a")
    tree.cmdline("BOOT_IMAGE=/vmlinuz ro")
    assert probe_iommu(make_host(tree)).enabled_in_kernel_args  # CONFIG_INTEL_IOMMU_DEFAULT_ON
    tree.cmdline("BOOT_IMAGE=/vmlinuz ro intel_iommu=off")
    assert not probe_iommu(make_host(tree)).enabled_in_kernel_args


def test_transition_time_kept_when_status_holds(tree: HostTree) -> None:
    intel(tree)
    first = probe_host(make_host(tree))
    again = probe_host(make_host(tree), previous=first)
    assert [c.last_transition_time for c in again.conditions] == [
        c.last_transition_time for c in first.conditions
    ]
