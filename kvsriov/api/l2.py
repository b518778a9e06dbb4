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
from kvsriov.api.constants import MAX_INTERFACE_NAME, VLAN_MAX, VLAN_MIN
from kvsriov.api.errors import ApiRuleError
from kvsriov.api.kinds import L2_KIND, L2_PLURAL
from kvsriov.api.meta import AGE_COLUMN, ApiModel, CrdInfo, KubeObject, column
from kvsriov.api.nic import INTERFACE_PATTERN

L2Type = Literal["NoVlan", "Vlan"]
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

    @model_validator(mode="after")
    def _vlan_matches_type(self) -> Self:
        if self.type == "Vlan" and self.vlan is None:
            raise ApiRuleError("vlan", VLAN_REQUIRED)
        if self.type != "Vlan" and self.vlan is not None:
            raise ApiRuleError("vlan", VLAN_FORBIDDEN)
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
