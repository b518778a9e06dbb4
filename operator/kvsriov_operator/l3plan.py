"""An L3 network's reconcile as pure steps: `plan_l3` decides, `settle` writes the status.

Like `readiness.l2_status` for an L2 network, but in two steps, because the status of an
L3 network depends on its NAD writes: a NAD cannot be created in a namespace that does
not exist (the API server answers 404), nor over a NAD of the same name that is someone
else's (render/owner.py), and NADsRendered and Ready say so. So:

1. `plan_l3(body, siblings, l2_body)` decides from the objects alone: the spec's and the
   cross-object rules (rules.py), effective SR-IOV, the NADs to converge to, the status
   fields no write can change, the Events of a SR-IOV flip and whether a refusal is news.
   - invalid spec: refused, NADs left as they are (running VMs keep working while the
     user fixes the spec);
   - L2 network missing: refused, NADs removed (nothing to attach them to);
   - a rule broken: refused; NADs left as they are, or removed if SR-IOV is off anyway;
   - else rendered in every target namespace, or removed when SR-IOV is effectively off.
2. reconcile.py applies `plan.nads` and hands the result (`NadSync`) to
   `settle(plan, sync)`, which sets the conditions (NADsRendered from the writes, Ready:
   False until every wanted NAD exists) and lists the NADs that exist.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from kvsriov.api.conditions import (
    Condition,
    EventReason,
    L3ConditionType,
    L3Reason,
    find_condition,
    set_condition,
)
from kvsriov.api.errors import describe
from kvsriov.api.ipam import Ipam
from kvsriov.api.l2 import SriovL2Network
from kvsriov.api.l3 import SriovL3Network
from kvsriov.api.naming import resource_name
from kvsriov.kubevirt.vfrequests import VfRequestMode
from kvsriov_operator import rules
from kvsriov_operator.outcomes import Event, L3Outcome, NadSync
from kvsriov_operator.render.cloudinit import cloud_init_status
from kvsriov_operator.render.nad import render_nads
from kvsriov_operator.views import L3Ref


@dataclass(frozen=True)
class Refusal:
    """Why the L3 network is not reconciled: Ready=False with this reason and message."""

    reason: L3Reason
    message: str


@dataclass(frozen=True)
class L3Plan:
    """What the objects alone decide about one L3 network, before any write."""

    name: str
    generation: int | None
    old_conditions: tuple[Condition, ...]
    """The conditions it has now: a transition time moves only when a status flips."""
    nads: dict[str, dict[str, Any]] | None
    """The NADs to converge to (namespace/name -> body); {} removes them all, None leaves them."""
    refusal: Refusal | None
    """None when the network is reconciled (Ready=True)."""
    status: dict[str, Any]
    """The status fields no NAD write changes: sriovEnabled (once the L2 network is known),
    resourceName and cloudInit (while SR-IOV is effectively on and nothing is refused)."""
    warning: str | None
    """The refusal's message when it is news (not already the Ready message): a Warning Event."""
    events: tuple[Event, ...]
    """Events known before the writes (SR-IOV turned on or off); the writes add theirs."""
    vf_requests: VfRequestMode | None = None
    """Who adds launcher pods' VF requests: the VfRequests condition, while VMs can use the
    network (SR-IOV effectively on, nothing refused); None drops the condition."""


def plan_l3(
    body: Mapping[str, Any],
    siblings: Iterable[L3Ref],
    l2_body: Mapping[str, Any] | None,
    vf_requests: VfRequestMode | None = None,
) -> L3Plan:
    """Decide an L3 network's NADs and status; `siblings` are the L3 networks on its L2 network.

    `l2_body` is the L2 network it names (metadata and spec suffice), None when it does not exist.
    `vf_requests` is who adds launcher pods' VF requests in this cluster (None: not known).
    """
    meta = body.get("metadata") or {}
    name, generation = meta["name"], meta.get("generation")
    old_status = body.get("status") or {}
    old = tuple(Condition.model_validate(c) for c in old_status.get("conditions", []))

    def plan(
        nads: dict[str, dict[str, Any]] | None,
        refusal: Refusal | None,
        status: dict[str, Any] | None = None,
        events: Iterable[Event] = (),
    ) -> L3Plan:
        return L3Plan(
            name, generation, old, nads, refusal, status or {}, _warning(old, refusal), tuple(events)
        )

    try:
        l3 = SriovL3Network.model_validate(body)
    except ValidationError as exc:
        # The error's loc starts at the body, so describe() names spec.ipam..., as the user wrote it.
        return plan(None, Refusal(L3Reason.INVALID_SPEC, describe(exc)))
    if l2_body is None:
        message = f"SriovL2Network {l3.spec.l2_network} does not exist; create it or fix spec.l2Network"
        return plan({}, Refusal(L3Reason.L2_NETWORK_NOT_FOUND, message))
    l2 = SriovL2Network.model_validate(l2_body)
    effective = rules.effective_sriov(l3.spec, l2.spec)
    me = L3Ref(name, meta.get("creationTimestamp") or "", None)
    refusals = rules.l3_refusals(l3.spec, l2.spec, older_siblings(me, siblings))
    events = sriov_events(old_status, effective, l3.spec.l2_network)
    if refusals:
        refusal = Refusal(L3Reason.REFUSED, "; ".join(map(str, refusals)))
        return plan({} if not effective else None, refusal, {"sriovEnabled": effective}, events)
    if not effective:
        return plan({}, None, {"sriovEnabled": False}, events)
    status = {
        "sriovEnabled": True,
        "resourceName": resource_name(l2.spec.physical_interface),
        "cloudInit": cloud_init_status(l3, l2.spec.mtu),
    }
    rendered = plan(render_nads(l3, l2), None, status, events)
    return dataclasses.replace(rendered, vf_requests=vf_requests)


def settle(plan: L3Plan, sync: NadSync, now: str | None = None) -> L3Outcome:
    """The outcome once `plan.nads` were applied: conditions and NAD list from what the writes did."""
    generation = plan.generation
    conditions = list(plan.old_conditions)
    events: list[Event] = []
    if plan.refusal is not None:
        reason = plan.refusal.reason
        conditions = set_condition(
            conditions, L3ConditionType.READY, "False", reason, plan.refusal.message, generation, now
        )
        conditions = set_condition(
            conditions,
            L3ConditionType.NADS_RENDERED,
            "False",
            reason,
            "not rendered: see Ready",
            generation,
            now,
        )
    elif (problem := nad_problem(sync)) is not None:
        reason, message = problem
        for type_ in (L3ConditionType.NADS_RENDERED, L3ConditionType.READY):
            conditions = set_condition(conditions, type_, "False", reason, message, generation, now)
        if _warning(plan.old_conditions, Refusal(reason, message)):
            events.append(Event(EventReason(reason), message, "Warning"))
    else:
        reason, message = (
            (L3Reason.RENDERED, f"{len(sync.nads)} NetworkAttachmentDefinition(s)")
            if plan.status.get("sriovEnabled")
            else (L3Reason.SRIOV_OFF, "SR-IOV is off: no NADs")
        )
        conditions = set_condition(
            conditions, L3ConditionType.NADS_RENDERED, "True", reason, message, generation, now
        )
        conditions = set_condition(
            conditions, L3ConditionType.READY, "True", L3Reason.RECONCILED, "", generation, now
        )
    conditions = _vf_requests_condition(conditions, plan.vf_requests, generation, now)
    status_fields = {
        "networkAttachmentDefinitions": sync.nads,
        "observedGeneration": generation,
        "conditions": [c.to_api() for c in conditions],
    }
    return L3Outcome(
        status=status_fields | plan.status,
        warning=plan.warning,
        nads=sync.nads,
        events=sync.events() + list(plan.events) + events,
    )


def nad_problem(sync: NadSync) -> tuple[L3Reason, str] | None:
    """Why the NADs the plan wants do not all exist, as Ready=False's reason and message: a NAD of
    the same name that is not ours (NADConflict: it is never overwritten), or a namespace that
    does not exist (NamespaceMissing). Both are a reason of the existing Ready and
    NetworkAttachmentDefinitionsRendered conditions, not a condition type of their own: Ready is
    what Argo CD and `kubectl wait` read, and a type of its own would have to be cleared apart.
    With both, the reason is NADConflict (only the user can resolve it) and the message says both."""
    parts: list[str] = []
    if sync.conflicts:
        found = ", ".join(f"{key} ({who})" for key, who in sorted(sync.conflicts.items()))
        parts.append(
            f"NetworkAttachmentDefinition {found} already exists and is not this network's; "
            "kvsriov does not overwrite it: rename or delete it, or remove its namespace from "
            "spec.namespaces"
        )
    if sync.failed:
        missing = ", ".join(sync.failed)
        parts.append(
            f"namespace {missing} does not exist; create it, or remove it from spec.namespaces"
            if len(sync.failed) == 1
            else f"namespaces {missing} do not exist; create them, or remove them from spec.namespaces"
        )
    if not parts:
        return None
    return (L3Reason.NAD_CONFLICT if sync.conflicts else L3Reason.NAMESPACE_MISSING), "; ".join(parts)


def _vf_requests_condition(
    conditions: list[Condition], mode: VfRequestMode | None, generation: int | None, now: str | None
) -> list[Condition]:
    if mode is None:
        return [c for c in conditions if c.type != L3ConditionType.VF_REQUESTS]
    return set_condition(
        conditions,
        L3ConditionType.VF_REQUESTS,
        mode.status,
        mode.injector,
        mode.message,
        generation,
        now,
    )


def older_siblings(me: L3Ref, siblings: Iterable[L3Ref]) -> dict[str, Ipam]:
    """The other L3 networks on the same L2 network created before `me` (they keep their ranges).

    creationTimestamp has one-second resolution; networks created in the same second are
    ordered by name. The admission webhook refuses an overlapping newcomer before it exists,
    so this order matters only for objects that bypassed it.
    """
    return rules.held_ipams(
        other
        for other in siblings
        if other.name != me.name and (other.created, other.name) < (me.created, me.name)
    )


def sriov_events(old_status: Mapping[str, Any] | None, effective: bool, l2_name: str) -> list[Event]:
    """An Event when the L3 network's effective SR-IOV changes (e.g. turned off on its L2 network)."""
    before = (old_status or {}).get("sriovEnabled")
    if before is None or before == effective:
        return []
    if effective:
        return [Event(EventReason.SRIOV_ENABLED, "SR-IOV is now on: VMs may get VF NICs on this network")]
    return [
        Event(
            EventReason.SRIOV_DISABLED,
            f"SR-IOV is now off (here or on SriovL2Network {l2_name}): its NADs are removed",
        )
    ]


def _warning(old: Iterable[Condition], refusal: Refusal | None) -> str | None:
    """A refusal is news unless Ready already says it: one Warning Event, not one per resync."""
    if refusal is None:
        return None
    previous = find_condition(list(old), L3ConditionType.READY)
    is_new = previous is None or previous.status != "False" or previous.message != refusal.message
    return refusal.message if is_new else None
