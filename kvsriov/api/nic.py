"""SriovPhysicalNic: one per PF per node (DESIGN step 2: slice a PF into VFs, restore it).

The node agent creates these on discovery, adopting what it finds
(`spec.numVfs` = the current count), so it never changes a NIC nobody asked it
to change. Users edit `spec.numVfs`; the agent owns `status`.
"""

from __future__ import annotations

from typing import ClassVar, Literal, Self

from pydantic import Field, model_validator
from pydantic.json_schema import JsonDict

from kvsriov.api.conditions import Condition
from kvsriov.api.constants import MAX_INTERFACE_NAME, MAX_VFS
from kvsriov.api.errors import ApiRuleError
from kvsriov.api.kinds import NIC_KIND, NIC_PLURAL
from kvsriov.api.meta import AGE_COLUMN, ApiModel, CrdInfo, KubeObject, column
from kvsriov.api.naming import nic_object_name

VfDriver = Literal["vfio-pci", "netdevice"]
LinkState = Literal["Connected", "Disconnected", "Unknown"]
Virtualization = Literal["NotVirtualizable", "Virtualizable", "Virtualized"]
NicState = Literal[
    "NotVirtualizable", "Virtualizable", "Virtualized", "InUse", "Slicing", "VFsLost", "Missing", "Error"
]
VfHealth = Literal["Healthy", "Unhealthy", "Lost"]

#: Linux refuses interface names containing '/', ':' or whitespace (dev_valid_name()).
INTERFACE_PATTERN = r"^[^/:\s]+$"
#: RFC 1123 DNS subdomain, which is what node names are.
NODE_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_IMMUTABLE = "self == oldSelf"


def immutable(field: str) -> JsonDict:
    return {
        "x-kubernetes-validations": [
            {"rule": _IMMUTABLE, "message": f"{field} is immutable; create a new object"}
        ]
    }


class SriovPhysicalNicSpec(ApiModel):
    node_name: str = Field(
        max_length=253,
        pattern=NODE_NAME_PATTERN,
        description="The node this PF is on.",
        json_schema_extra=immutable("spec.nodeName"),
    )
    interface: str = Field(
        min_length=1,
        max_length=MAX_INTERFACE_NAME,
        pattern=INTERFACE_PATTERN,
        description="The PF's interface name on that node, e.g. em2.",
        json_schema_extra=immutable("spec.interface"),
    )
    num_vfs: int = Field(
        default=0,
        ge=0,
        le=MAX_VFS,
        description="How many VFs to create: 1..status.totalVfs slices the PF, 0 restores it.",
    )
    force: bool = Field(
        default=False,
        description="Allow a restore or shrink that takes VFs away from running VMs (they lose the NIC).",
    )
    vf_driver: VfDriver = Field(
        default="vfio-pci",
        description="vfio-pci hands VFs to VMs (KubeVirt); netdevice keeps the VF's kernel driver for pods.",
    )


class BondStatus(ApiModel):
    master: str = Field(description="The bond interface this PF is enslaved to.")
    members: list[str] = Field(default_factory=list, description="Every PF of that bond.")


class VfStatus(ApiModel):
    index: int = Field(ge=0, description="VF index on its PF (virtfnN).")
    pci_address: str = Field(description="The VF's PCI address, also its device ID for the kubelet.")
    driver: str | None = Field(default=None, description="Bound driver: vfio-pci, igbvf, ixgbevf... or none.")
    mac: str | None = None
    vlan: int | None = None
    allocated: bool = Field(default=False, description="Given to a pod (and its VM) by the kubelet.")
    owner: str | None = Field(default=None, description="namespace/name of the VM or pod using it.")
    health: VfHealth = "Healthy"


class SriovPhysicalNicStatus(ApiModel):
    node_name: str | None = None
    interface: str | None = None
    pci_address: str | None = None
    vendor_id: str | None = None
    device_id: str | None = None
    vendor: str | None = None
    model: str | None = Field(
        default=None, description="From the PCI ID database, e.g. 82599ES 10-Gigabit SFI/SFP+."
    )
    driver: str | None = None
    link: LinkState = "Unknown"
    speed_mbps: int | None = Field(default=None, ge=0)
    speed: str | None = Field(default=None, description="speedMbps for people, e.g. 10 Gb/s.")
    virtualization: Virtualization = "NotVirtualizable"
    state: NicState | None = Field(default=None, description="One-word summary for the NIC table.")
    total_vfs: int = Field(default=0, ge=0)
    num_vfs: int = Field(default=0, ge=0)
    vfs_available: int = Field(default=0, ge=0, description="Free, healthy VFs.")
    vfs_summary: str | None = Field(default=None, description="available/total, e.g. 32/32.")
    resource_name: str | None = Field(default=None, description="The extended resource VMs request.")
    bond: BondStatus | None = None
    vfs: list[VfStatus] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["index"]},
    )
    observed_generation: int | None = None
    conditions: list[Condition] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )

    @model_validator(mode="after")
    def _derive_display_fields(self) -> Self:
        """Fill the columns that kubectl cannot compute (a printer column is one JSONPath)."""
        self.vfs_summary = f"{self.vfs_available}/{self.num_vfs}"
        if self.speed_mbps is not None:
            self.speed = format_speed(self.speed_mbps)
        return self


def format_speed(mbps: int) -> str:
    if mbps <= 0:
        return "-"
    if mbps >= 1000 and mbps % 1000 == 0:
        return f"{mbps // 1000} Gb/s"
    return f"{mbps} Mb/s"


class SriovPhysicalNic(KubeObject):
    """One physical NIC (PF) of one node: its VFs, link and model."""

    crd: ClassVar[CrdInfo] = CrdInfo(
        kind=NIC_KIND,
        plural=NIC_PLURAL,
        singular="sriovphysicalnic",
        short_names=("srnic", "pnic"),
        printer_columns=(
            column("Node", ".spec.nodeName"),
            column("Interface", ".spec.interface"),
            column("Model", ".status.model"),
            column("Link", ".status.link"),
            column("Speed", ".status.speed"),
            column("State", ".status.state"),
            column("VFs", ".status.vfsSummary", description="VFs available/total"),
            column("Driver", ".spec.vfDriver", priority=1),
            column("PCI", ".status.pciAddress", priority=1),
            AGE_COLUMN,
        ),
    )

    spec: SriovPhysicalNicSpec
    status: SriovPhysicalNicStatus | None = None

    @model_validator(mode="after")
    def _name_follows_node_and_interface(self) -> Self:
        expected = nic_object_name(self.spec.node_name, self.spec.interface)
        if self.metadata.name and self.metadata.name != expected:
            raise ApiRuleError(
                "metadata.name",
                f"must be {expected!r}, the DNS-safe form of <spec.nodeName>.<spec.interface>; "
                f"rename the object or fix spec.nodeName/spec.interface",
            )
        return self
