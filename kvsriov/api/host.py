"""SriovHost: one per node, named after it (DESIGN step 1: IOMMU and interrupt remapping).

Users own `spec` (ask the agent to configure kernel arguments or allow unsafe
interrupts); the node agent owns `status` (what it probed).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from kvsriov.api.conditions import Condition
from kvsriov.api.kinds import HOST_KIND, HOST_PLURAL
from kvsriov.api.meta import AGE_COLUMN, ApiModel, CrdInfo, KubeObject, column

IommuVendor = Literal["intel", "amd", "none"]
EvidenceSource = Literal["sysfs", "dmesg", "unknown"]


class SriovHostSpec(ApiModel):
    configure_kernel_args: bool = Field(
        default=False,
        description=(
            "Let the node agent add intel_iommu=on iommu=pt (Intel) or amd_iommu=on iommu=pt (AMD) "
            "to the boot loader configuration. It never reboots; status.rebootRequired tells when one is due."
        ),
    )
    allow_unsafe_interrupts: bool = Field(
        default=False,
        description=(
            "Write `options vfio_iommu_type1 allow_unsafe_interrupts=1` so that VFs can be given to VMs on a "
            "host without interrupt remapping. A security trade-off: a guest can then inject interrupts "
            "(MSI attacks); kept visible by the UnsafeInterruptsAllowed condition."
        ),
    )


class IommuStatus(ApiModel):
    vendor: IommuVendor = Field(default="none", description="intel (DMAR / VT-d), amd (AMD-Vi) or none.")
    enabled_in_kernel_args: bool = Field(
        default=False,
        description="The kernel command line turns the IOMMU on (or the kernel does by default).",
    )
    ready: bool = Field(default=False, description="IOMMU units are active and IOMMU groups exist.")
    groups: int = Field(default=0, ge=0, description="Number of IOMMU groups.")


class InterruptRemappingStatus(ApiModel):
    supported: bool = Field(
        default=False, description="The IOMMU remaps interrupts (VT-d ECAP.IR or AMD-Vi)."
    )
    source: EvidenceSource = Field(
        default="unknown", description="Which evidence was read: sysfs, dmesg or none."
    )


class SriovHostStatus(ApiModel):
    iommu: IommuStatus = Field(default_factory=IommuStatus)
    interrupt_remapping: InterruptRemappingStatus = Field(default_factory=InterruptRemappingStatus)
    reboot_required: bool = Field(
        default=False, description="Kernel arguments were written but not yet booted."
    )
    boot_loader: str | None = Field(
        default=None, description="The boot loader whose configuration is managed."
    )
    observed_generation: int | None = None
    conditions: list[Condition] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )


class SriovHost(KubeObject):
    """IOMMU and interrupt-remapping state of one node (name = node name)."""

    crd: ClassVar[CrdInfo] = CrdInfo(
        kind=HOST_KIND,
        plural=HOST_PLURAL,
        singular="sriovhost",
        short_names=("srh",),
        printer_columns=(
            column("IOMMU", ".status.iommu.vendor", description="IOMMU vendor"),
            column("Enabled", ".status.iommu.enabledInKernelArgs", "boolean", "IOMMU on in kernel args"),
            column("Ready", ".status.iommu.ready", "boolean", "IOMMU active (groups exist)"),
            column("IR", ".status.interruptRemapping.supported", "boolean", "interrupt remapping"),
            column("Reboot", ".status.rebootRequired", "boolean", "a reboot is due"),
            AGE_COLUMN,
        ),
    )

    spec: SriovHostSpec = Field(default_factory=SriovHostSpec)
    status: SriovHostStatus | None = None
