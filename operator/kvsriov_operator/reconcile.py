"""The I/O around the pure functions: read the objects a decision needs, apply its result.

Handlers call these; they stay free of kopf so that one code path serves the
object's own handler (which writes `patch.status`) and the handlers of related
kinds (a NIC, a Node, an L2 network, a NAD), which patch the status through
the API. Every write is skipped when nothing changed, so running twice is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from kvsriov.api.conditions import Condition, L3ConditionType, find_condition, set_condition
from kvsriov.api.constants import GROUP, LABEL_L3_NETWORK, VERSION
from kvsriov.api.errors import describe
from kvsriov.api.ipam import Ipam
from kvsriov.api.l2 import SriovL2Network
from kvsriov.api.l3 import SriovL3Network
from kvsriov.api.naming import resource_name
from kvsriov_operator import rules
from kvsriov_operator.readiness import NicView, l2_status
from kvsriov_operator.render.nad import NAD_GROUP, NAD_PLURAL, NAD_VERSION, drifted, render_nads
from kvsriov_operator.settings import Clients

L2_PLURAL = "sriovl2networks"
L3_PLURAL = "sriovl3networks"


@dataclass(frozen=True)
class L3Ref:
    """An L3 network as its siblings see it: who is older, which addresses it holds."""

    name: str
    created: str
    ipam: Mapping[str, Any] | None
    deleting: bool = False


def status_patch(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """A merge patch turning `old` into `new`: keys that vanished are set to None (deleted)."""
    patch = {key: None for key in (old or {}) if key not in new}
    patch.update(new)
    return patch


def get_or_none(clients: Clients, plural: str, name: str) -> dict[str, Any] | None:
    try:
        return clients.custom.get_cluster_custom_object(GROUP, VERSION, plural, name)  # type: ignore[no-any-return]
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def patch_status(clients: Clients, plural: str, body: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Write `new` as the object's status unless it already is (no empty writes on a resync)."""
    old = body.get("status") or {}
    if {k: v for k, v in old.items() if k in new} == dict(new) and set(old) <= set(new):
        return
    name = body["metadata"]["name"]
    try:
        clients.custom.patch_cluster_custom_object_status(
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


# --- L3 -------------------------------------------------------------------------------------------


@dataclass
class L3Outcome:
    """What reconciling an L3 network decided: its new status and a warning to record, if any."""

    status: dict[str, Any]
    warning: str | None = None
    nads: list[str] = field(default_factory=list)


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


def list_nads(clients: Clients, l3_name: str) -> dict[str, dict[str, Any]]:
    found = clients.custom.list_cluster_custom_object(
        NAD_GROUP, NAD_VERSION, NAD_PLURAL, label_selector=f"{LABEL_L3_NETWORK}={l3_name}"
    )
    return {f"{i['metadata']['namespace']}/{i['metadata']['name']}": i for i in found.get("items", [])}


def apply_nads(
    clients: Clients, l3_name: str, desired: Mapping[str, dict[str, Any]] | None
) -> tuple[list[str], list[str]]:
    """Create/repair the desired NADs and delete the others; None = leave them as they are.

    Returns (namespace/name of the NADs that exist now, namespaces that could not be written).
    """
    existing = list_nads(clients, l3_name)
    if desired is None:
        return sorted(existing), []
    failed: list[str] = []
    for key, nad in desired.items():
        namespace, name = key.split("/", 1)
        current = existing.get(key)
        try:
            if current is None:  # 409 below: created meanwhile (by a concurrent reconcile)
                clients.custom.create_namespaced_custom_object(
                    NAD_GROUP, NAD_VERSION, namespace, NAD_PLURAL, nad
                )
            elif drifted(current, nad):
                clients.custom.patch_namespaced_custom_object(
                    NAD_GROUP, NAD_VERSION, namespace, NAD_PLURAL, name, nad
                )
        except ApiException as exc:
            if exc.status == 409:
                continue  # its event brings us back to check it
            if exc.status != 404:
                raise
            failed.append(namespace)  # the namespace does not exist
    for key in sorted(set(existing) - set(desired)):
        delete_nad(clients, key)
    return sorted(k for k in desired if k.split("/", 1)[0] not in failed), failed


def delete_nad(clients: Clients, key: str) -> None:
    namespace, name = key.split("/", 1)
    try:
        clients.custom.delete_namespaced_custom_object(NAD_GROUP, NAD_VERSION, namespace, NAD_PLURAL, name)
    except ApiException as exc:
        if exc.status != 404:
            raise


def delete_all_nads(clients: Clients, l3_name: str) -> None:
    for key in list_nads(clients, l3_name):
        delete_nad(clients, key)


def reconcile_l3(clients: Clients, body: Mapping[str, Any], siblings: Iterable[L3Ref]) -> L3Outcome:
    """Decide effective SR-IOV and refusals, converge the NADs, and compute the L3 status.

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
            old_conditions, generation, "InvalidSpec", describe(exc, "spec"), sorted(list_nads(clients, name))
        )
    l2_body = get_or_none(clients, L2_PLURAL, l3.spec.l2_network)
    if l2_body is None:
        nads, _ = apply_nads(clients, name, {})
        message = f"SriovL2Network {l3.spec.l2_network} does not exist; create it or fix spec.l2Network"
        return _refused(old_conditions, generation, "L2NetworkNotFound", message, nads)
    l2 = SriovL2Network.model_validate(l2_body)
    effective = rules.effective_sriov(l3.spec, l2.spec)
    me = L3Ref(name, meta.get("creationTimestamp") or "", None)
    refusals = rules.l3_refusals(l3.spec, l2.spec, older_siblings(me, siblings))
    desired = {} if not effective else (None if refusals else render_nads(l3, l2))
    nads, failed = apply_nads(clients, name, desired)
    if refusals:
        outcome = _refused(old_conditions, generation, "Refused", "; ".join(map(str, refusals)), nads)
        outcome.status["sriovEnabled"] = effective
        return outcome
    conditions = set_condition(
        old_conditions,
        L3ConditionType.NADS_RENDERED,
        "False" if failed else "True",
        "NamespaceMissing" if failed else ("Rendered" if effective else "SriovOff"),
        f"could not write into namespaces {', '.join(failed)}; create them"
        if failed
        else (f"{len(nads)} NetworkAttachmentDefinition(s)" if effective else "SR-IOV is off: no NADs"),
        generation,
    )
    conditions = set_condition(conditions, L3ConditionType.READY, "True", "Reconciled", "", generation)
    status: dict[str, Any] = {
        "sriovEnabled": effective,
        "networkAttachmentDefinitions": nads,
        "observedGeneration": generation,
        "conditions": [c.to_api() for c in conditions],
    }
    if effective:
        status["resourceName"] = resource_name(l2.spec.physical_interface)
    return L3Outcome(status=status, nads=nads)


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
