"""Host probe: IOMMU and interrupt remapping -> SriovHost status (DESIGN step 1).

Reads only; every rule names the kernel fact it relies on. Conditions say
what to do about a refusal, since they are what a user reads first.
"""

from __future__ import annotations

import re

from kvsriov.api.conditions import Condition, ConditionStatus, HostConditionType, HostReason, set_condition
from kvsriov.api.host import (
    EvidenceSource,
    InterruptRemappingStatus,
    IommuStatus,
    IommuVendor,
    SriovHostSpec,
    SriovHostStatus,
)
from kvsriov_agent.host import paths
from kvsriov_agent.host.bundle import Host
from kvsriov_agent.host.interfaces import Sysfs

#: Kernel arguments that turn the IOMMU on (iommu=pt: on, with identity mapping for host devices).
ENABLING_ARGS = frozenset({"intel_iommu=on", "amd_iommu=on", "iommu=pt"})
#: Kernel arguments that turn it off whatever the kernel's default is.
DISABLING_ARGS = frozenset({"intel_iommu=off", "amd_iommu=off", "iommu=off"})
#: What to add per vendor (spec.configureKernelArgs writes the same).
KERNEL_ARGS = {
    "intel": "intel_iommu=on iommu=pt",
    "amd": "amd_iommu=on iommu=pt",
    "none": "intel_iommu=on iommu=pt (Intel) or amd_iommu=on iommu=pt (AMD)",
}

#: VT-d ECAP bit 3 is IR (Interrupt Remapping support, VT-d spec 11.4.3).
ECAP_IR_BIT = 3
#: drivers/iommu/intel/dmar.c prints one line per DRHD unit at boot.
DMAR_ECAP_LINE = re.compile(r"DMAR: dmar\d+: reg_base_addr \S+ ver \S+ cap [0-9a-fA-F]+ ecap ([0-9a-fA-F]+)")
#: drivers/iommu/amd/init.c prints this when it enables interrupt remapping.
AMD_IR_LINE = "AMD-Vi: Interrupt remapping enabled"


#: (status, reason, message) of one condition.
CondArgs = tuple[ConditionStatus, str, str]


def iommu_vendor(units: list[str]) -> IommuVendor:
    """dmarN units belong to Intel VT-d, ivhdN units to AMD-Vi (their sysfs class names)."""
    if any(u.startswith("dmar") for u in units):
        return "intel"
    if any(u.startswith("ivhd") for u in units):
        return "amd"
    return "none"


def probe_iommu(host: Host) -> IommuStatus:
    """Vendor, kernel arguments, readiness and group count of the running kernel's IOMMU."""
    units = host.sysfs.listdir(paths.CLASS_IOMMU)
    vendor = iommu_vendor(units)
    args = set(host.procfs.cmdline())
    # Units in /sys/class/iommu exist only when the driver initialised, so with units and no
    # "off" argument the kernel enabled it by default (CONFIG_INTEL_IOMMU_DEFAULT_ON, AMD's default).
    enabled = not (args & DISABLING_ARGS) and (bool(args & ENABLING_ARGS) or vendor != "none")
    groups = len(host.sysfs.listdir(paths.IOMMU_GROUPS))
    # Groups are created only when an IOMMU translates DMA for devices: that is what vfio needs.
    ready = vendor != "none" and groups > 0
    return IommuStatus(vendor=vendor, enabled_in_kernel_args=enabled, ready=ready, groups=groups)


def ecap_has_ir(ecap_hex: str) -> bool:
    """The reference check script's rule `((0x$ecap & 0xf) >> 3) == 1`: it reads exactly bit 3, ECAP.IR."""
    return ((int(ecap_hex, 16) & 0xF) >> ECAP_IR_BIT) == 1


def ir_from_sysfs(sysfs: Sysfs) -> InterruptRemappingStatus | None:
    """VT-d ECAP of every DMAR unit (`intel-iommu/ecap`); the kernel remaps only if every unit can."""
    units = [u for u in sysfs.listdir(paths.CLASS_IOMMU) if u.startswith("dmar")]
    ecaps = [sysfs.read(f"{paths.CLASS_IOMMU}/{u}/{paths.INTEL_ECAP}") for u in units]
    if not ecaps or not all(ecaps):
        return None
    return _ir(all(ecap_has_ir(e) for e in ecaps if e), "sysfs")


def ir_from_kernel_log(lines: list[str], vendor: IommuVendor) -> InterruptRemappingStatus | None:
    """DMAR `ecap` lines with the reference rule; for AMD, the AMD-Vi interrupt-remapping line."""
    logged = [m.group(1) for line in lines if (m := DMAR_ECAP_LINE.search(line))]
    if logged:
        return _ir(all(ecap_has_ir(e) for e in logged), "dmesg")
    if vendor == "amd" and any(AMD_IR_LINE in line for line in lines):
        return _ir(True, "dmesg")
    return None


def probe_interrupt_remapping(host: Host, vendor: IommuVendor) -> InterruptRemappingStatus:
    """sysfs first (it survives log rotation), then the kernel log, else unknown."""
    found = ir_from_sysfs(host.sysfs) or ir_from_kernel_log(host.kernel_log.lines(), vendor)
    return found or _ir(False, "unknown")


def _ir(supported: bool, source: EvidenceSource) -> InterruptRemappingStatus:
    return InterruptRemappingStatus(supported=supported, source=source)


def probe_host(
    host: Host,
    spec: SriovHostSpec | None = None,
    previous: SriovHostStatus | None = None,
    generation: int | None = None,
) -> SriovHostStatus:
    """The SriovHost status the agent writes: probed facts plus IOMMUReady, InterruptRemapping, Ready."""
    spec = spec or SriovHostSpec()
    iommu = probe_iommu(host)
    ir = probe_interrupt_remapping(host, iommu.vendor)
    conditions = list(previous.conditions) if previous else []

    iommu_cond = _iommu_condition(iommu)
    conditions = _set(conditions, HostConditionType.IOMMU_READY, iommu_cond, generation)
    ir_cond = _ir_condition(ir, spec)
    conditions = _set(conditions, HostConditionType.INTERRUPT_REMAPPING, ir_cond, generation)

    ready: CondArgs
    if not iommu.ready:
        ready = ("False", HostReason.IOMMU_NOT_READY, f"IOMMU not ready: {iommu_cond[2]}")
    elif ir.supported:
        ready = ("True", HostReason.READY, "IOMMU ready and interrupts remapped: VFs can be given to VMs.")
    elif spec.allow_unsafe_interrupts:
        ready = (
            "True",
            HostReason.UNSAFE_INTERRUPTS,
            "IOMMU ready; no interrupt remapping, allowed by spec.allowUnsafeInterrupts (a guest can "
            "inject interrupts into the host: turn it off once the hardware remaps interrupts).",
        )
    else:
        ready = ("False", HostReason.NO_INTERRUPT_REMAPPING, f"Cannot give VFs to VMs: {ir_cond[2]}")
    conditions = _set(conditions, HostConditionType.READY, ready, generation)
    return SriovHostStatus(
        iommu=iommu,
        interrupt_remapping=ir,
        reboot_required=previous.reboot_required if previous else False,
        observed_generation=generation,
        conditions=conditions,
    )


def _set(conditions: list[Condition], type_: str, args: CondArgs, generation: int | None) -> list[Condition]:
    status, reason, message = args
    return set_condition(conditions, type_, status, reason, message, observed_generation=generation)


def _iommu_condition(iommu: IommuStatus) -> CondArgs:
    args = KERNEL_ARGS[iommu.vendor]
    if iommu.ready:
        return "True", HostReason.IOMMU_ACTIVE, f"{iommu.vendor} IOMMU active with {iommu.groups} groups."
    if iommu.vendor != "none":
        return (
            "False",
            HostReason.NO_IOMMU_GROUPS,
            f"{iommu.vendor} IOMMU units exist but no IOMMU groups: check that the kernel arguments "
            f"include {args} (or set spec.configureKernelArgs) and reboot.",
        )
    if iommu.enabled_in_kernel_args:
        return (
            "False",
            HostReason.NO_IOMMU_UNITS,
            "The kernel arguments enable the IOMMU but no IOMMU unit is active: enable VT-d (Intel) "
            "or AMD-Vi/IOMMU (AMD) in the BIOS/firmware setup, then reboot.",
        )
    return (
        "False",
        HostReason.NO_IOMMU,
        f"No IOMMU: enable VT-d (Intel) or AMD-Vi/IOMMU (AMD) in the BIOS/firmware setup, add {args} "
        "to the kernel arguments (or set spec.configureKernelArgs), then reboot.",
    )


def _ir_condition(ir: InterruptRemappingStatus, spec: SriovHostSpec) -> CondArgs:
    optin = (
        "use a host whose IOMMU remaps interrupts (VT-d with IR, AMD-Vi), or opt in with "
        "spec.allowUnsafeInterrupts (a guest can then inject interrupts: a security risk)"
    )
    if ir.supported:
        return "True", HostReason.SUPPORTED, f"The IOMMU remaps interrupts (evidence: {ir.source})."
    if ir.source == "unknown":
        return (
            "Unknown",
            HostReason.NO_EVIDENCE,
            "No evidence of interrupt remapping in sysfs or the kernel log; if the IOMMU is off, "
            f"enable it first; else {optin}.",
        )
    note = " (allowed now by spec.allowUnsafeInterrupts)" if spec.allow_unsafe_interrupts else ""
    return (
        "False",
        HostReason.NOT_SUPPORTED,
        f"The IOMMU does not remap interrupts (evidence: {ir.source}){note}: "
        f"vfio refuses VFs for VMs; {optin}.",
    )
