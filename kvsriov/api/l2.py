"""SriovL2Network: an L2 network on a NIC name, SR-IOV capable (DESIGN step 3a).

Like the reference cloud, the network names a physical interface (`em2`) and
applies on every node the node selector matches; whether SR-IOV is effective
on a node depends on that node's PF being sliced (status, not an error).
"""

from __future__ import annotations

from typing import ClassVar, Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic.json_schema import JsonValue

from kvsriov.api.conditions import Condition
from kvsriov.api.constants import (
    MAX_INTERFACE_NAME,
    MTU_MAX,
    MTU_MIN,
    VLAN_MAX,
    VLAN_MIN,
    VLAN_QOS_MAX,
    VLAN_QOS_MIN,
)
from kvsriov.api.errors import ApiRuleError
from kvsriov.api.kinds import L2_KIND, L2_PLURAL
from kvsriov.api.meta import AGE_COLUMN, ApiModel, CrdInfo, KubeObject, column
from kvsriov.api.nic import INTERFACE_PATTERN

L2Type = Literal["NoVlan", "Vlan"]
#: The TPIDs sriov-cni accepts for `vlanProto` (pkg/config/config.go LoadConf; 802.1q when unset).
VlanProto = Literal["802.1q", "802.1ad"]
NotSlicedReason = Literal["NoSuchNic", "NotVirtualizable", "NotSliced", "NicMissing"]

VXLAN_REFUSAL = "SR-IOV is not supported on VXLAN L2 networks; use NoVlan or Vlan"
TYPE_REFUSAL = "must be NoVlan or Vlan"
#: spec.type is checked by CEL, not an enum: with an enum the API server answers `Vxlan` with the
#: supported values only (the CEL rule saying why is then not run), and an enum that lists Vxlan, to
#: let that rule run, names it among the supported values of every other typo.
TYPE_RULES: list[JsonValue] = [
    {"rule": "self != 'Vxlan'", "message": VXLAN_REFUSAL},
    {
        "rule": "self == 'Vxlan' || self in ['NoVlan', 'Vlan']",
        "message": TYPE_REFUSAL,
    },
]


def _type_schema(schema: dict[str, JsonValue]) -> None:
    schema.pop("enum", None)
    schema["x-kubernetes-validations"] = TYPE_RULES


VLAN_REQUIRED = f"required when spec.type is Vlan: set spec.vlan to {VLAN_MIN}..{VLAN_MAX}"
VLAN_FORBIDDEN = "only allowed with spec.type Vlan: remove spec.vlan or set spec.type to Vlan"

VLAN_QOS_FORBIDDEN = "only allowed with spec.type Vlan: remove spec.vlanQoS or set spec.type to Vlan"
VLAN_PROTO_FORBIDDEN = "only allowed with spec.type Vlan: remove spec.vlanProto or set spec.type to Vlan"
MTU_RANGE = (
    f"use {MTU_MIN}..{MTU_MAX} ({MTU_MIN} is the kernel's ETH_MIN_MTU, {MTU_MAX} the largest PF MTU of "
    "igb/ixgbe/i40e; the agent refuses more than the PF's own maximum)"
)

#: Cross-field rules the API server enforces by itself (CEL), mirrored by the model validator below.
L2_SPEC_RULES: list[JsonValue] = [
    {
        "rule": "self.type != 'Vlan' || has(self.vlan)",
        "message": f"spec.vlan is {VLAN_REQUIRED}",
        "fieldPath": ".vlan",
        "reason": "FieldValueRequired",
    },
    {
        "rule": "self.type == 'Vlan' || !has(self.vlan)",
        "message": f"spec.vlan is {VLAN_FORBIDDEN}",
        "fieldPath": ".vlan",
    },
    {
        "rule": "self.type == 'Vlan' || !has(self.vlanQoS)",
        "message": f"spec.vlanQoS is {VLAN_QOS_FORBIDDEN}",
        "fieldPath": ".vlanQoS",
    },
    {
        "rule": "self.type == 'Vlan' || !has(self.vlanProto)",
        "message": f"spec.vlanProto is {VLAN_PROTO_FORBIDDEN}",
        "fieldPath": ".vlanProto",
    },
]


class SriovSettings(ApiModel):
    enabled: bool = Field(default=True, description="VMs may get VF NICs on this network.")


class SriovL2NetworkSpec(ApiModel):
    model_config = {"json_schema_extra": {"x-kubernetes-validations": L2_SPEC_RULES}}

    type: L2Type = Field(
        description="NoVlan or Vlan. Vxlan is refused: a VF cannot carry a VXLAN overlay.",
        json_schema_extra=_type_schema,
    )
    physical_interface: str = Field(
        min_length=1,
        max_length=MAX_INTERFACE_NAME,
        pattern=INTERFACE_PATTERN,
        description="The PF name on every selected node, e.g. em2.",
    )
    vlan: int | None = Field(
        default=None, ge=VLAN_MIN, le=VLAN_MAX, description="802.1Q VLAN id, only with Vlan."
    )
    # `default: {}` in the schema makes the API server create the object, so its own
    # default (enabled: true) shows in `kubectl get` even when the user omits `sriov`.
    sriov: SriovSettings = Field(default_factory=SriovSettings, json_schema_extra={"default": {}})
    node_selector: dict[str, str] = Field(
        default_factory=dict,
        description="Node labels choosing the hosts (like a cluster); empty = every node.",
    )
    description: str | None = Field(default=None, max_length=1024)
    mtu: int | None = Field(
        default=None,
        ge=MTU_MIN,
        le=MTU_MAX,
        description="MTU of the network: the agent sets it on the PF (a VF's maximum follows its PF "
        "on igb/ixgbe/i40e) and the guest sets it on the VF NIC from status.cloudInit. Unset: as is.",
    )
    vlan_qos: int | None = Field(
        default=None,
        alias="vlanQoS",
        ge=VLAN_QOS_MIN,
        le=VLAN_QOS_MAX,
        description="802.1p priority (PCP) of the VF's VLAN tag, 0..7, only with Vlan. Unset: 0.",
    )
    vlan_proto: VlanProto | None = Field(
        default=None,
        description="TPID of the VF's VLAN tag, 802.1q or 802.1ad (QinQ), only with Vlan. Unset: 802.1q.",
    )

    @field_validator("type", mode="before")
    @classmethod
    def _no_vxlan(cls, value: object) -> object:
        if value == "Vxlan":
            raise ValueError(VXLAN_REFUSAL)
        if isinstance(value, str) and value not in ("NoVlan", "Vlan"):
            raise ValueError(f"{value!r} {TYPE_REFUSAL}")
        return value

    @field_validator("vlan", mode="before")
    @classmethod
    def _vlan_in_range(cls, value: object) -> object:
        if isinstance(value, int) and not VLAN_MIN <= value <= VLAN_MAX:
            raise ValueError(
                f"{value} is not a usable VLAN id; use {VLAN_MIN}..{VLAN_MAX} (0 and 4095 are reserved)"
            )
        return value

    @field_validator("mtu", mode="before")
    @classmethod
    def _mtu_in_range(cls, value: object) -> object:
        if isinstance(value, int) and not MTU_MIN <= value <= MTU_MAX:
            raise ValueError(f"{value} is not a usable MTU; {MTU_RANGE}")
        return value

    @field_validator("vlan_qos", mode="before")
    @classmethod
    def _qos_in_range(cls, value: object) -> object:
        if isinstance(value, int) and not VLAN_QOS_MIN <= value <= VLAN_QOS_MAX:
            raise ValueError(f"{value} is not an 802.1p priority; use {VLAN_QOS_MIN}..{VLAN_QOS_MAX}")
        return value

    @model_validator(mode="after")
    def _vlan_matches_type(self) -> Self:
        if self.type == "Vlan" and self.vlan is None:
            raise ApiRuleError("vlan", VLAN_REQUIRED)
        if self.type != "Vlan" and self.vlan is not None:
            raise ApiRuleError("vlan", VLAN_FORBIDDEN)
        if self.type != "Vlan" and self.vlan_qos is not None:
            raise ApiRuleError("vlanQoS", VLAN_QOS_FORBIDDEN)
        if self.type != "Vlan" and self.vlan_proto is not None:
            raise ApiRuleError("vlanProto", VLAN_PROTO_FORBIDDEN)
        return self


class NotSlicedNode(ApiModel):
    node: str
    reason: NotSlicedReason
    message: str = ""


class L2NodesStatus(ApiModel):
    sliced: list[str] = Field(
        default_factory=list, description="Nodes where the PF is sliced: SR-IOV effective."
    )
    not_sliced: list[NotSlicedNode] = Field(
        default_factory=list, description="Nodes where it is not, and why."
    )


class SriovL2NetworkStatus(ApiModel):
    nodes: L2NodesStatus = Field(default_factory=L2NodesStatus)
    effective: str | None = Field(default=None, description="sliced/selected nodes, e.g. 2/3.")
    resource_name: str | None = None
    observed_generation: int | None = None
    conditions: list[Condition] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )


class SriovL2Network(KubeObject):
    """An SR-IOV capable L2 network on a physical interface name (NoVlan or Vlan)."""

    crd: ClassVar[CrdInfo] = CrdInfo(
        kind=L2_KIND,
        plural=L2_PLURAL,
        singular="sriovl2network",
        short_names=("srl2",),
        printer_columns=(
            column("Type", ".spec.type"),
            column("Interface", ".spec.physicalInterface"),
            column("VLAN", ".spec.vlan", "integer"),
            column("SRIOV", ".spec.sriov.enabled", "boolean"),
            column(
                "Effective", ".status.effective", description="nodes where SR-IOV is effective / selected"
            ),
            column("Ready", '.status.conditions[?(@.type=="Ready")].status', priority=1),
            AGE_COLUMN,
        ),
    )

    spec: SriovL2NetworkSpec
    status: SriovL2NetworkStatus | None = None
