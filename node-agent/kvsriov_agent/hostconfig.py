"""spec.configureKernelArgs and spec.allowUnsafeInterrupts: the two host changes the agent makes.

Both go through the Host bundle's BootConfig and Modprobe; the agent never
reboots (rebootRequired says when one is due) and writes only when the file
differs, so a resync pass touches nothing.
"""

from __future__ import annotations

from kvsriov.api.conditions import HostConditionType, HostReason, set_condition
from kvsriov.api.host import SriovHostSpec, SriovHostStatus
from kvsriov_agent.host.boot import BootConfigError
from kvsriov_agent.host.bundle import Host
from kvsriov_agent.probe import KERNEL_ARGS

VFIO_MODULE = "vfio_iommu_type1"
UNSAFE_OPTION = "allow_unsafe_interrupts"


def apply_kernel_args(host: Host, spec: SriovHostSpec, status: SriovHostStatus, gen: int | None) -> None:
    """Write the IOMMU arguments into the boot loader drop-in; rebootRequired until /proc/cmdline has them."""
    if not spec.configure_kernel_args:
        status.reboot_required = False
        return
    cond = HostConditionType.KERNEL_ARGS_CONFIGURED
    wanted = KERNEL_ARGS[status.iommu.vendor if status.iommu.vendor != "none" else "intel"].split()
    try:
        if host.boot_config.kernel_args() != wanted:
            host.boot_config.set_kernel_args(wanted)
    except (BootConfigError, OSError) as err:
        status.conditions = set_condition(
            status.conditions, cond, "False", HostReason.UNSUPPORTED_BOOT_LOADER, str(err), gen
        )
        return
    status.boot_loader = host.boot_config.loader()
    status.reboot_required = not set(wanted) <= set(host.procfs.cmdline())
    message = f"{' '.join(wanted)} written to the {status.boot_loader} configuration; " + (
        "reboot the node to activate them." if status.reboot_required else "active since the last boot."
    )
    status.conditions = set_condition(
        status.conditions, cond, "True", HostReason.KERNEL_ARGS_CONFIGURED, message, gen
    )


def apply_unsafe_interrupts(
    host: Host, spec: SriovHostSpec, status: SriovHostStatus, gen: int | None
) -> bool:
    """Write or remove the modprobe option; returns True when it is on (the caller warns with an Event)."""
    modprobe = host.modprobe
    cond = HostConditionType.UNSAFE_INTERRUPTS_ALLOWED
    options = dict(modprobe.options(VFIO_MODULE))
    if spec.allow_unsafe_interrupts and options.get(UNSAFE_OPTION) != "1":
        modprobe.set_options(VFIO_MODULE, {**options, UNSAFE_OPTION: "1"})
    elif not spec.allow_unsafe_interrupts and UNSAFE_OPTION in options:
        options.pop(UNSAFE_OPTION)
        modprobe.set_options(VFIO_MODULE, options)
    if spec.allow_unsafe_interrupts:
        status.conditions = set_condition(
            status.conditions, cond, "True", HostReason.UNSAFE_INTERRUPTS,
            "Security warning: vfio_iommu_type1 allow_unsafe_interrupts=1 is set, so a guest given a VF can "
            "inject interrupts into the host. Turn spec.allowUnsafeInterrupts off once the IOMMU remaps "
            "interrupts.", gen,
        )  # fmt: skip
        return True
    status.conditions = set_condition(
        status.conditions, cond, "False", HostReason.UNSAFE_INTERRUPTS_NOT_ALLOWED,
        "vfio refuses devices on hosts without interrupt remapping (the safe default).", gen,
    )  # fmt: skip
    return False
