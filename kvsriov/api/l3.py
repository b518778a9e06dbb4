"""SriovL3Network: addresses on an L2 network; rendered into Multus NADs (DESIGN step 3b).

SR-IOV defaults to the L2 network's setting and may be turned off; it cannot be
on while the L2's is off (the reference greys the option out, we refuse it:
the operator checks that, since it needs the L2 object). Network services the
VF path bypasses are refused while SR-IOV is on.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, model_validator
from pydantic.json_schema import JsonValue

from kvsriov.api.conditions import Condition
from kvsriov.api.errors import ApiRuleError, FieldError
from kvsriov.api.ipam import Ipam
from kvsriov.api.kinds import L3_KIND, L3_PLURAL
from kvsriov.api.meta import AGE_COLUMN, ApiModel, CrdInfo, KubeObject, column
from kvsriov.api.nic import NODE_NAME_PATTERN

Category = Literal["Flat", "Public", "VRouter", "Vpc"]
#: A VF's link state as the PF reports it to the VF (IFLA_VF_LINK_STATE_AUTO/ENABLE/DISABLE), in
#: sriov-cni's `link_state` spelling (pkg/types/types.go).
LinkState = Literal["auto", "enable", "disable"]
EIP_REFUSED_CATEGORIES: tuple[str, ...] = ("Flat", "Public")

SECURITY_GROUP_REFUSAL = (
    "security groups are not supported on an SR-IOV L3 network: VF NICs bypass the host's virtual switch "
    "where security groups are enforced; set networkServices.securityGroup to false or sriov.enabled to false"
)
EIP_REFUSAL = (
    "EIP is not supported on an SR-IOV L3 network of category Flat or Public; "
    "set networkServices.eip to false, use a VRouter or Vpc network, or set sriov.enabled to false"
)
_SRIOV_ON = "(has(self.sriov) && has(self.sriov.enabled) && self.sriov.enabled)"
L3_SPEC_RULES: list[JsonValue] = [
    {
        "rule": f"!{_SRIOV_ON} || !has(self.networkServices) || !self.networkServices.securityGroup",
        "message": SECURITY_GROUP_REFUSAL,
        "fieldPath": ".networkServices.securityGroup",
    },
    {
        "rule": f"!{_SRIOV_ON} || !has(self.networkServices) || !self.networkServices.eip || "
        "!(self.category in ['Flat', 'Public'])",
        "message": EIP_REFUSAL,
        "fieldPath": ".networkServices.eip",
    },
]
#: A namespace name (RFC 1123 label).
NAMESPACE_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class L3SriovSettings(ApiModel):
    enabled: bool | None = Field(
        default=None, description="Unset: follow the L2 network. false turns SR-IOV off for this L3 network."
    )


class NetworkServices(ApiModel):
    security_group: bool = Field(default=False, description="Security groups (refused while SR-IOV is on).")
    eip: bool = Field(default=False, description="Elastic IPs (refused on Flat/Public while SR-IOV is on).")


class SriovL3NetworkSpec(ApiModel):
    model_config = {"json_schema_extra": {"x-kubernetes-validations": L3_SPEC_RULES}}

    l2_network: str = Field(
        min_length=1, max_length=253, pattern=NODE_NAME_PATTERN, description="Name of the SriovL2Network."
    )
    category: Category = Field(
        default="Flat", description="Flat, Public, VRouter or Vpc, as in the reference."
    )
    sriov: L3SriovSettings = Field(default_factory=L3SriovSettings)
    ipam: Ipam
    namespaces: list[Annotated[str, Field(max_length=63, pattern=NAMESPACE_PATTERN)]] = Field(
        default_factory=list,
        max_length=256,
        description="Namespaces that get a NetworkAttachmentDefinition; empty = the default namespace.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    network_services: NetworkServices = Field(
        default_factory=NetworkServices, json_schema_extra={"default": {}}
    )
    description: str | None = Field(default=None, max_length=1024)
    vm_migration: Literal["Refuse", "UnplugReplug"] = Field(
        default="Refuse",
        description="Live migration of a running VM with a VF NIC on this network: Refuse (the "
        "reference rule: stop the VM first) or UnplugReplug (KubeVirt unplugs the VF, the target "
        "node gives a new one; the guest sees the NIC go and come).",
    )
    spoof_check: bool = Field(
        default=True,
        description="The PF drops frames a VF NIC sends with a source MAC other than its own.",
    )
    trust: bool = Field(
        default=False,
        description="Trusted VF NICs may change their MAC and turn on promiscuous or all-multicast mode.",
    )
    link_state: LinkState = Field(
        default="auto",
        description="The link a VF NIC sees: auto (follows the PF's), enable (always up, so VMs on one "
        "PF reach each other while its cable is out) or disable (always down).",
    )

    @model_validator(mode="after")
    def _services_allowed_with_explicit_sriov(self) -> Self:
        if self.sriov.enabled:
            refusals = network_service_refusals(self, sriov_enabled=True)
            if refusals:
                raise ApiRuleError(refusals[0].field, refusals[0].message)
        return self


def network_service_refusals(spec: SriovL3NetworkSpec, sriov_enabled: bool) -> list[FieldError]:
    """The reference rule: VF NICs get neither security groups nor (on Flat/Public) EIPs.

    Takes the effective SR-IOV setting because an unset `sriov.enabled`
    inherits the L2 network's, which only the operator can read.
    """
    if not sriov_enabled:
        return []
    refusals = []
    if spec.network_services.security_group:
        refusals.append(FieldError("networkServices.securityGroup", SECURITY_GROUP_REFUSAL))
    if spec.network_services.eip and spec.category in EIP_REFUSED_CATEGORIES:
        refusals.append(FieldError("networkServices.eip", EIP_REFUSAL))
    return refusals


class CloudInitStatus(ApiModel):
    """How a guest configures a VF NIC on this network (vfio-pci: no pod interface, no DHCP)."""

    network_data: str = Field(
        description="cloud-init networkData (version 2) for one VF NIC; fill ${MAC} and ${ADDRESS}."
    )
    prefix_length: int = Field(ge=0, le=128, description="The prefix length of spec.ipam.cidr.")
    static_addresses: str = Field(
        default="", description="Addresses a VM may take: the CIDR outside the IPAM ranges and the gateway."
    )
    gateway: str | None = None
    dns: list[str] = Field(default_factory=list)


class SriovL3NetworkStatus(ApiModel):
    sriov_enabled: bool | None = Field(default=None, description="The effective setting (spec or the L2's).")
    resource_name: str | None = Field(default=None, description="The extended resource VMs on it request.")
    network_attachment_definitions: list[str] = Field(
        default_factory=list, description="namespace/name of each NAD."
    )
    cloud_init: CloudInitStatus | None = Field(
        default=None, description="Guest network configuration for VF NICs (set while SR-IOV is on)."
    )
    observed_generation: int | None = None
    conditions: list[Condition] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )


class SriovL3Network(KubeObject):
    """An L3 network (IPAM) on an SR-IOV L2 network, rendered into Multus NADs."""

    crd: ClassVar[CrdInfo] = CrdInfo(
        kind=L3_KIND,
        plural=L3_PLURAL,
        singular="sriovl3network",
        short_names=("srl3",),
        printer_columns=(
            column("L2", ".spec.l2Network"),
            column("SRIOV", ".status.sriovEnabled", "boolean"),
            column("CIDR", ".spec.ipam.cidr"),
            column("Ready", '.status.conditions[?(@.type=="Ready")].status'),
            column("Category", ".spec.category", priority=1),
            AGE_COLUMN,
        ),
    )

    spec: SriovL3NetworkSpec
    status: SriovL3NetworkStatus | None = None
