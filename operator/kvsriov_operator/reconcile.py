"""The I/O around the pure functions: read the objects a decision needs, apply its result.

Handlers call these; they stay free of kopf so that one code path serves the
object's own handler (which writes `patch.status`) and the handlers of related
kinds (a NIC, a Node, an L2 network, a NAD), which patch the status through
the API. Every write is skipped when nothing changed, so running twice is a no-op.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client import CustomObjectsApi
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from kvsriov.api.conditions import (
    Condition,
    EventReason,
    L2ConditionType,
    L3ConditionType,
    L3Reason,
    find_condition,
    set_condition,
)
from kvsriov.api.constants import GROUP, LABEL_L3_NETWORK, LABEL_MANAGED_BY, MANAGED_BY_VALUE, VERSION
from kvsriov.api.errors import describe
from kvsriov.api.ipam import Ipam
from kvsriov.api.kinds import L3_PLURAL
from kvsriov.api.l2 import SriovL2Network
from kvsriov.api.l3 import SriovL3Network
from kvsriov.api.naming import resource_name
from kvsriov_operator import rules
from kvsriov_operator.readiness import l2_status
from kvsriov_operator.render.cloudinit import cloud_init_status
from kvsriov_operator.render.nad import NAD_GROUP, NAD_PLURAL, NAD_VERSION, drifted, render_nads
from kvsriov_operator.views import L3Ref, NicView


def status_patch(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """A merge patch turning `old` into `new`: keys that vanished are set to None (deleted)."""
    patch = {key: None for key in (old or {}) if key not in new}
    patch.update(new)
    return patch


def get_or_none(custom: CustomObjectsApi, plural: str, name: str) -> dict[str, Any] | None:
    try:
        return custom.get_cluster_custom_object(GROUP, VERSION, plural, name)  # type: ignore[no-any-return]
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def patch_status(
    custom: CustomObjectsApi, plural: str, body: Mapping[str, Any], new: Mapping[str, Any]
) -> None:
    """Write `new` as the object's status unless it already is (no empty writes on a resync)."""
    old = body.get("status") or {}
    if {k: v for k, v in old.items() if k in new} == dict(new) and set(old) <= set(new):
        return
    name = body["metadata"]["name"]
    try:
        custom.patch_cluster_custom_object_status(
            GROUP, VERSION, plural, name, {"status": status_patch(old, new)}
        )
    except ApiException as exc:
        if exc.status != 404:  # deleted meanwhile: nothing to report on
            raise


# --- L2 -------------------------------------------------------------------------------------------


def l2_status_of(
    body: Mapping[str, Any], nodes: Mapping[str, Mapping[str, str]], nics: Iterable[NicView]
) -> dict[str, Any]:
    return l2_status(SriovL2Network.model_validate(body), nodes, nics).to_api()


def effectiveness_event(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> Event | None:
    """An Event when SriovEffective flips (or is first known): users see slicing take effect."""

    def effective(status: Mapping[str, Any] | None) -> dict[str, Any]:
        conditions = (status or {}).get("conditions") or []
        return next((c for c in conditions if c.get("type") == L2ConditionType.SRIOV_EFFECTIVE), {})

    before, after = effective(old), effective(new)
    if not after or before.get("status") == after.get("status"):
        return None
    on = after.get("status") == "True"
    return Event(
        EventReason.SRIOV_EFFECTIVE if on else EventReason.SRIOV_NOT_EFFECTIVE,
        after.get("message", ""),
        "Normal" if on or not before else "Warning",
    )


# --- L3 -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event to record on the object: what changed, in a user's words."""

    reason: str
    message: str
    type: str = "Normal"


@dataclass
class L3Outcome:
    """What reconciling an L3 network decided: its new status and the events to record."""

    status: dict[str, Any]
    warning: str | None = None
    nads: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


@dataclass
class NadSync:
    """What converging an L3 network's NADs did."""

    nads: list[str]
    """namespace/name of the NADs that exist now."""
    failed: list[str] = field(default_factory=list)
    """Namespaces that could not be written (they do not exist)."""
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def events(self) -> list[Event]:
        return [
            Event(reason, f"{verb} NetworkAttachmentDefinition {', '.join(keys)}")
            for reason, verb, keys in (
                (EventReason.NAD_CREATED, "created", self.created),
                (EventReason.NAD_UPDATED, "re-rendered", self.updated),
                (EventReason.NAD_DELETED, "removed", self.deleted),
            )
            if keys
        ]


def older_siblings(me: L3Ref, siblings: Iterable[L3Ref]) -> dict[str, Ipam]:
    """The other L3 networks on the same L2 network created before `me` (they keep their ranges).

    creationTimestamp has one-second resolution; networks created in the same second are
    ordered by name. The admission webhook refuses an overlapping newcomer before it exists,
    so this order matters only for objects that bypassed it.
    """
    result = {}
    for other in siblings:
        if (
            other.name == me.name
            or other.ipam is None
            or other.deleting  # its addresses are being released
            or (other.created, other.name) >= (me.created, me.name)
        ):
            continue
        try:
            result[other.name] = Ipam.model_validate(other.ipam)
        except ValidationError:
            continue  # its own conditions report that; it holds no addresses
    return result


def list_nads(custom: CustomObjectsApi, l3_name: str) -> dict[str, dict[str, Any]]:
    found = custom.list_cluster_custom_object(
        NAD_GROUP, NAD_VERSION, NAD_PLURAL, label_selector=f"{LABEL_L3_NETWORK}={l3_name}"
    )
    return {f"{i['metadata']['namespace']}/{i['metadata']['name']}": i for i in found.get("items", [])}


def apply_nads(
    custom: CustomObjectsApi, l3_name: str, desired: Mapping[str, dict[str, Any]] | None
) -> NadSync:
    """Create/repair the desired NADs and delete the others; None = leave them as they are."""
    existing = list_nads(custom, l3_name)
    if desired is None:
        return NadSync(sorted(existing))
    failed: list[str] = []
    sync = NadSync([])
    for key, nad in desired.items():
        namespace, name = key.split("/", 1)
        current = existing.get(key)
        try:
            if current is None:  # 409 below: created meanwhile (by a concurrent reconcile)
                custom.create_namespaced_custom_object(NAD_GROUP, NAD_VERSION, namespace, NAD_PLURAL, nad)
                sync.created.append(key)
            elif drifted(current, nad):
                custom.patch_namespaced_custom_object(
                    NAD_GROUP, NAD_VERSION, namespace, NAD_PLURAL, name, nad
                )
                sync.updated.append(key)
        except ApiException as exc:
            if exc.status == 409:
                continue  # its event brings us back to check it
            if exc.status != 404:
                raise
            failed.append(namespace)  # the namespace does not exist
    for key in sorted(set(existing) - set(desired)):
        delete_nad(custom, key)
        sync.deleted.append(key)
    sync.nads = sorted(k for k in desired if k.split("/", 1)[0] not in failed)
    sync.failed = failed
    return sync


def delete_nad(custom: CustomObjectsApi, key: str) -> None:
    namespace, name = key.split("/", 1)
    try:
        custom.delete_namespaced_custom_object(NAD_GROUP, NAD_VERSION, namespace, NAD_PLURAL, name)
    except ApiException as exc:
        if exc.status != 404:
            raise


def l3_exists(custom: CustomObjectsApi, name: str) -> bool:
    try:
        custom.get_cluster_custom_object(GROUP, VERSION, L3_PLURAL, name)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def delete_all_nads(custom: CustomObjectsApi, l3_name: str) -> None:
    for key in list_nads(custom, l3_name):
        delete_nad(custom, key)


def delete_orphaned_nads(custom: CustomObjectsApi, l3_exists: Callable[[str], bool]) -> list[str]:
    """Delete our NADs whose L3 network is gone; returns them (namespace/name).

    The finalizer covers a deletion the operator sees. This covers the ones it cannot: an L3
    network deleted before kopf added the finalizer (a worker may render before that patch
    lands), or while the operator was killed between a NAD's create and the finalizer, or
    with the finalizer removed by hand. (NADs carry no ownerReference, so no garbage collector
    does this for us.) `l3_exists` is asked once per L3 network the NADs name.
    """
    found = custom.list_cluster_custom_object(
        NAD_GROUP,
        NAD_VERSION,
        NAD_PLURAL,
        label_selector=f"{LABEL_MANAGED_BY}={MANAGED_BY_VALUE},{LABEL_L3_NETWORK}",
    )
    owners = {item["metadata"]["labels"][LABEL_L3_NETWORK] for item in found.get("items", [])}
    gone = {owner for owner in owners if not l3_exists(owner)}
    orphans = sorted(
        f"{item['metadata']['namespace']}/{item['metadata']['name']}"
        for item in found.get("items", [])
        if item["metadata"]["labels"][LABEL_L3_NETWORK] in gone
    )
    for key in orphans:
        delete_nad(custom, key)
    return orphans


def reconcile_l3(
    custom: CustomObjectsApi,
    body: Mapping[str, Any],
    siblings: Iterable[L3Ref],
    l2_body: Mapping[str, Any] | None,
    announce: Callable[[Mapping[str, dict[str, Any]]], None] = lambda desired: None,
) -> L3Outcome:
    """Decide effective SR-IOV and refusals, converge the NADs, and compute the L3 status.

    `l2_body` is the L2 network it names (metadata and spec suffice), None when it does not exist.
    `announce` hears the NADs it is about to converge to (namespace/name -> body), before the
    writes (not called when it leaves them as they are).

    SR-IOV effectively off (here or on the L2 network, or the L2 network gone): its NADs are
    removed. Refused (a rule broken): NADs are left as they are, so running VMs keep working
    while the user fixes the spec. Otherwise the NADs are rendered in every target namespace.
    """
    meta = body.get("metadata") or {}
    name, generation = meta["name"], meta.get("generation")
    old_conditions = [Condition.model_validate(c) for c in (body.get("status") or {}).get("conditions", [])]
    try:
        l3 = SriovL3Network.model_validate(body)
    except ValidationError as exc:
        return _refused(
            old_conditions,
            generation,
            L3Reason.INVALID_SPEC,
            describe(exc, "spec"),
            sorted(list_nads(custom, name)),
        )
    if l2_body is None:
        announce({})
        sync = apply_nads(custom, name, {})
        message = f"SriovL2Network {l3.spec.l2_network} does not exist; create it or fix spec.l2Network"
        outcome = _refused(old_conditions, generation, L3Reason.L2_NETWORK_NOT_FOUND, message, sync.nads)
        outcome.events = sync.events()
        return outcome
    l2 = SriovL2Network.model_validate(l2_body)
    effective = rules.effective_sriov(l3.spec, l2.spec)
    me = L3Ref(name, meta.get("creationTimestamp") or "", None)
    refusals = rules.l3_refusals(l3.spec, l2.spec, older_siblings(me, siblings))
    desired = {} if not effective else (None if refusals else render_nads(l3, l2))
    if desired is not None:
        announce(desired)
    sync = apply_nads(custom, name, desired)
    nads, failed = sync.nads, sync.failed
    events = sync.events() + sriov_events(body.get("status"), effective, l3.spec.l2_network)
    if refusals:
        outcome = _refused(old_conditions, generation, L3Reason.REFUSED, "; ".join(map(str, refusals)), nads)
        outcome.status["sriovEnabled"] = effective
        outcome.events = events
        return outcome
    conditions = set_condition(
        old_conditions,
        L3ConditionType.NADS_RENDERED,
        "False" if failed else "True",
        L3Reason.NAMESPACE_MISSING if failed else (L3Reason.RENDERED if effective else L3Reason.SRIOV_OFF),
        f"could not write into namespaces {', '.join(failed)}; create them"
        if failed
        else (f"{len(nads)} NetworkAttachmentDefinition(s)" if effective else "SR-IOV is off: no NADs"),
        generation,
    )
    conditions = set_condition(conditions, L3ConditionType.READY, "True", L3Reason.RECONCILED, "", generation)
    status: dict[str, Any] = {
        "sriovEnabled": effective,
        "networkAttachmentDefinitions": nads,
        "observedGeneration": generation,
        "conditions": [c.to_api() for c in conditions],
    }
    if effective:
        status["resourceName"] = resource_name(l2.spec.physical_interface)
        status["cloudInit"] = cloud_init_status(l3)
    return L3Outcome(status=status, nads=nads, events=events)


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


def _refused(
    old: list[Condition], generation: int | None, reason: str, message: str, nads: list[str]
) -> L3Outcome:
    previous = find_condition(old, L3ConditionType.READY)
    conditions = set_condition(old, L3ConditionType.READY, "False", reason, message, generation)
    conditions = set_condition(
        conditions, L3ConditionType.NADS_RENDERED, "False", reason, "not rendered: see Ready", generation
    )
    status = {
        "networkAttachmentDefinitions": nads,
        "observedGeneration": generation,
        "conditions": [c.to_api() for c in conditions],
    }
    is_new = previous is None or previous.status != "False" or previous.message != message
    return L3Outcome(status=status, warning=message if is_new else None, nads=nads)
