"""Conditions: a closed set of types and reasons per kind, and one setter.

Kubernetes conventions: `type`, `status` (True/False/Unknown), `reason`
(CamelCase, machine-readable), `message` (for humans: says what to do),
`lastTransitionTime` (moves only when `status` flips) and `observedGeneration`
(which spec generation the condition describes).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Literal

from pydantic import Field

from kvsriov.api.meta import ApiModel

ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(ApiModel):
    type: str = Field(description="The aspect this condition describes, e.g. Ready.")
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(default="", description="CamelCase reason for the last transition.")
    message: str = Field(default="", description="What happened and what to do about it.")
    last_transition_time: str | None = Field(default=None, description="When status last changed (RFC 3339).")
    observed_generation: int | None = Field(default=None, description="The spec generation this describes.")


class HostConditionType(StrEnum):
    IOMMU_READY = "IOMMUReady"
    INTERRUPT_REMAPPING = "InterruptRemapping"
    UNSAFE_INTERRUPTS_ALLOWED = "UnsafeInterruptsAllowed"
    KERNEL_ARGS_CONFIGURED = "KernelArgsConfigured"
    DEVICE_PLUGIN_READY = "DevicePluginReady"
    READY = "Ready"


class NicConditionType(StrEnum):
    SLICED = "Sliced"
    VFS_LOST = "VFsLost"
    PRESENT = "Present"
    READY = "Ready"


class HostReason(StrEnum):
    """Reasons of the SriovHost conditions (IOMMUReady, InterruptRemapping, Ready, KernelArgsConfigured,
    UnsafeInterruptsAllowed) and of the Events the node agent records on a SriovHost."""

    IOMMU_ACTIVE = "IOMMUActive"
    NO_IOMMU = "IOMMUNotEnabled"
    NO_IOMMU_UNITS = "NoIOMMUUnits"
    NO_IOMMU_GROUPS = "NoIOMMUGroups"
    SUPPORTED = "InterruptRemappingSupported"
    NOT_SUPPORTED = "InterruptRemappingNotSupported"
    NO_EVIDENCE = "NoEvidence"
    READY = "HostReady"
    IOMMU_NOT_READY = "IOMMUNotReady"
    UNSAFE_INTERRUPTS = "UnsafeInterruptsAllowed"
    UNSAFE_INTERRUPTS_NOT_ALLOWED = "UnsafeInterruptsNotAllowed"
    NO_INTERRUPT_REMAPPING = "NoInterruptRemapping"
    KERNEL_ARGS_CONFIGURED = "Configured"
    UNSUPPORTED_BOOT_LOADER = "UnsupportedBootLoader"
    DEVICE_PLUGIN_SERVING = "Serving"
    DEVICE_PLUGIN_FAILED = "CannotServe"


class NicReason(StrEnum):
    """Reasons of the SriovPhysicalNic conditions (Sliced, VFsLost, Present) and of the node agent's
    Events on a SriovPhysicalNic."""

    AS_REQUESTED = "AsRequested"
    SLICING = "Slicing"
    SLICED = "Sliced"
    SLICING_FAILED = "SlicingFailed"
    REFUSED = "Refused"
    IN_USE = "InUse"
    POD_RESOURCES_UNAVAILABLE = "PodResourcesUnavailable"
    FORCED_VFS_REMOVED = "ForcedVFsRemoved"
    PF_DRIVER_UNBOUND = "PFDriverUnbound"
    PF_DRIVER_BOUND = "PFDriverBound"
    VFS_LOST = "VFsLost"
    DISCOVERED = "Discovered"
    NOT_FOUND = "NotFound"
    NIC_MISSING = "NicMissing"
    #: Events: a VF the kubelet freed got its sliced state back (node agent, vfreset.py), or did not.
    VF_RESET = "VFReset"
    VF_RESET_FAILED = "VFResetFailed"
    #: Event: an object the node agent watches (labelled for its node) whose name or spec.nodeName
    #: names another node; the agent leaves it alone (it could not write it: deploy/*/node-restriction).
    NOT_OWN_NODE = "NotOwnNode"


class L2ConditionType(StrEnum):
    SRIOV_EFFECTIVE = "SriovEffective"
    READY = "Ready"


class L3ConditionType(StrEnum):
    NADS_RENDERED = "NetworkAttachmentDefinitionsRendered"
    READY = "Ready"
    #: Who adds launcher pods' VF requests (reason: KubeVirt, Kvsriov, ...; kvsriov.kubevirt.vfrequests).
    VF_REQUESTS = "VfRequests"


class L2Reason(StrEnum):
    """Reasons of the SriovL2Network conditions."""

    EFFECTIVE = "Effective"
    PARTIALLY_EFFECTIVE = "PartiallyEffective"
    NOT_EFFECTIVE = "NotEffective"
    NO_NODES_SELECTED = "NoNodesSelected"
    SRIOV_DISABLED = "SriovDisabled"
    RECONCILED = "Reconciled"


class L3Reason(StrEnum):
    """Reasons of the SriovL3Network conditions (and of the Events the operator records)."""

    INVALID_SPEC = "InvalidSpec"
    L2_NETWORK_NOT_FOUND = "L2NetworkNotFound"
    REFUSED = "Refused"
    RENDERED = "Rendered"
    SRIOV_OFF = "SriovOff"
    #: Ready/NADsRendered False: a namespace of spec.namespaces does not exist (its NAD cannot be written).
    NAMESPACE_MISSING = "NamespaceMissing"
    #: Ready/NADsRendered False: a NAD of the wanted name exists and is not ours (never overwritten).
    NAD_CONFLICT = "NADConflict"
    RECONCILED = "Reconciled"


class EventReason(StrEnum):
    """Reasons of the Events the operator records on L2/L3 networks (changes, not only refusals)."""

    REFUSED = "Refused"
    NAD_CREATED = "NetworkAttachmentDefinitionCreated"
    NAD_UPDATED = "NetworkAttachmentDefinitionUpdated"
    NAD_DELETED = "NetworkAttachmentDefinitionDeleted"
    SRIOV_ENABLED = "SriovEnabled"
    SRIOV_DISABLED = "SriovDisabled"
    SRIOV_EFFECTIVE = "SriovEffective"
    SRIOV_NOT_EFFECTIVE = "SriovNotEffective"
    RECONCILE_FAILED = "ReconcileFailed"
    #: Warnings when an L3 network's NADs cannot all be written (the L3Reason of the same name).
    NAMESPACE_MISSING = "NamespaceMissing"
    NAD_CONFLICT = "NADConflict"


def now_rfc3339() -> str:
    """Kubernetes timestamps: UTC, second precision, `Z` suffix."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def set_condition(
    conditions: list[Condition],
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    observed_generation: int | None = None,
    now: str | None = None,
) -> list[Condition]:
    """Return `conditions` with `type_` set; the transition time moves only on a flip.

    Keeping the old timestamp when only the message changes is what lets a
    user read "Ready=False since 3h" instead of "since the last resync".
    """
    result: list[Condition] = []
    found = False
    for cond in conditions:
        if cond.type != type_:
            result.append(cond)
            continue
        found = True
        ltt = cond.last_transition_time if cond.status == status else (now or now_rfc3339())
        result.append(
            Condition(
                type=type_,
                status=status,
                reason=reason,
                message=message,
                last_transition_time=ltt or now or now_rfc3339(),
                observed_generation=observed_generation,
            )
        )
    if not found:
        result.append(
            Condition(
                type=type_,
                status=status,
                reason=reason,
                message=message,
                last_transition_time=now or now_rfc3339(),
                observed_generation=observed_generation,
            )
        )
    return result


def find_condition(conditions: list[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)
