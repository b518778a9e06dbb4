"""The I/O around the pure functions: read the objects a decision needs, apply its result.

Handlers call these; they stay free of kopf so that one code path serves the
object's own handler (which writes `patch.status`) and the handlers of related
kinds (a NIC, a Node, an L2 network, a NAD), which patch the status through
the API. Every write is skipped when nothing changed, so running twice is a no-op.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kubernetes.client import CustomObjectsApi
from kubernetes.client.exceptions import ApiException

from kvsriov.api.conditions import EventReason, L2ConditionType
from kvsriov.api.constants import GROUP, VERSION
from kvsriov.api.kinds import L3_PLURAL
from kvsriov.api.l2 import SriovL2Network
from kvsriov.kubevirt.vfrequests import VfRequestMode
from kvsriov_operator.l3plan import plan_l3, settle
from kvsriov_operator.outcomes import Event, L3Outcome, NadSync
from kvsriov_operator.readiness import l2_status
from kvsriov_operator.render.nad import NAD_GROUP, NAD_PLURAL, NAD_VERSION, drifted, l3_selector
from kvsriov_operator.render.owner import (
    Ownership,
    foreign_owner,
    owner_of,
    owner_references,
    ownership,
)
from kvsriov_operator.views import L3Ref, NicView


def status_patch(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """A merge patch turning `old` into `new`: keys that vanished are set to None (deleted)."""
    patch = {key: None for key in (old or {}) if key not in new}
    patch.update(new)
    return patch


def get_or_none(custom: CustomObjectsApi, plural: str, name: str) -> dict[str, Any] | None:
    try:
        return custom.get_cluster_custom_object(GROUP, VERSION, plural, name)
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


def list_nads(custom: CustomObjectsApi, l3_name: str) -> dict[str, dict[str, Any]]:
    """The NADs labelled for `l3_name`, ours or not (render/owner.py decides)."""
    found = custom.list_cluster_custom_object(
        NAD_GROUP, NAD_VERSION, NAD_PLURAL, label_selector=l3_selector(l3_name)
    )
    return {f"{i['metadata']['namespace']}/{i['metadata']['name']}": i for i in found.get("items", [])}


def get_nad(custom: CustomObjectsApi, key: str) -> dict[str, Any] | None:
    namespace, name = key.split("/", 1)
    try:
        return custom.get_namespaced_custom_object(NAD_GROUP, NAD_VERSION, namespace, NAD_PLURAL, name)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def owned_nads(
    custom: CustomObjectsApi, l3_name: str, known: Iterable[str] = ()
) -> dict[str, dict[str, Any]]:
    """The NADs of `l3_name` that exist: the labelled ones it owns, and of `known` (the NADs its
    status lists) those it owns whose labels were removed, which no label selector finds."""
    found = list_nads(custom, l3_name)
    for key in sorted(set(known) - set(found)):
        if (nad := get_nad(custom, key)) is not None:
            found[key] = nad
    return {key: nad for key, nad in found.items() if ownership(nad, l3_name) is not Ownership.FOREIGN}


def repaired(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The merge patch that puts `desired` back on our NAD `current`, keeping others' owner refs."""
    refs = desired["metadata"].get("ownerReferences")
    if not refs:
        return dict(desired)
    metadata = desired["metadata"] | {"ownerReferences": owner_references(current, refs[0])}
    return dict(desired) | {"metadata": metadata}


def apply_nads(
    custom: CustomObjectsApi,
    l3_name: str,
    desired: Mapping[str, dict[str, Any]] | None,
    known: Iterable[str] = (),
) -> NadSync:
    """Create/repair the desired NADs and delete the others of ours; None = leave them as they are.

    Only NADs we own are written or deleted (render/owner.py): a NAD of a wanted name that is
    someone else's is left alone and reported in `conflicts`. `known`: the NADs the L3 network's
    status lists (ours even with their labels removed).
    """
    existing = owned_nads(custom, l3_name, known)
    if desired is None:
        return NadSync(sorted(existing))
    failed: list[str] = []
    sync = NadSync([])
    for key, nad in desired.items():
        namespace, name = key.split("/", 1)
        current = existing.get(key)
        try:
            if current is None:
                try:
                    custom.create_namespaced_custom_object(NAD_GROUP, NAD_VERSION, namespace, NAD_PLURAL, nad)
                    sync.created.append(key)
                    continue
                except ApiException as exc:
                    if exc.status != 409:
                        raise
                # It exists: ours without labels, created meanwhile by a concurrent reconcile,
                # or someone else's. Deleted meanwhile: its event brings us back.
                if (current := get_nad(custom, key)) is None:
                    continue
                if ownership(current, l3_name) is Ownership.FOREIGN:
                    sync.conflicts[key] = foreign_owner(current)
                    continue
            if drifted(current, nad):
                custom.patch_namespaced_custom_object(
                    NAD_GROUP, NAD_VERSION, namespace, NAD_PLURAL, name, repaired(current, nad)
                )
                sync.updated.append(key)
        except ApiException as exc:
            if exc.status == 409:
                continue  # changed meanwhile: its event brings us back to check it
            if exc.status != 404:
                raise
            failed.append(namespace)  # the namespace does not exist
    for key in sorted(set(existing) - set(desired)):
        delete_nad(custom, key)
        sync.deleted.append(key)
    sync.nads = sorted(k for k in desired if k.split("/", 1)[0] not in failed and k not in sync.conflicts)
    sync.failed = sorted(set(failed))
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


def delete_all_nads(custom: CustomObjectsApi, l3_name: str, known: Iterable[str] = ()) -> None:
    """Delete every NAD `l3_name` owns (`known`: the NADs its status lists); never another's."""
    for key in owned_nads(custom, l3_name, known):
        delete_nad(custom, key)


def delete_orphaned_nads(custom: CustomObjectsApi, l3_exists: Callable[[str], bool]) -> list[str]:
    """Delete our NADs whose L3 network is gone; returns them (namespace/name).

    The finalizer covers a deletion the operator sees. This covers the ones it cannot: an L3
    network deleted before kopf added the finalizer (a worker may render before that patch
    lands), or while the operator was killed between a NAD's create and the finalizer, or
    with the finalizer removed by hand. (Where a garbage collector runs, the ownerReference
    does it too; not every cluster runs one for custom resources in time, the sandbox none.)
    Every NAD is listed, not only the labelled ones: ownership is the owner mark
    (render/owner.py), and a NAD may have lost its labels. `l3_exists` is asked once per L3
    network the NADs name.
    """
    found = custom.list_cluster_custom_object(NAD_GROUP, NAD_VERSION, NAD_PLURAL)
    owned = {
        f"{item['metadata']['namespace']}/{item['metadata']['name']}": owner
        for item in found.get("items", [])
        if (owner := owner_of(item)) is not None
    }
    gone = {owner for owner in set(owned.values()) if not l3_exists(owner)}
    orphans = sorted(key for key, owner in owned.items() if owner in gone)
    for key in orphans:
        delete_nad(custom, key)
    return orphans


def reconcile_l3(
    custom: CustomObjectsApi,
    body: Mapping[str, Any],
    siblings: Iterable[L3Ref],
    l2_body: Mapping[str, Any] | None,
    announce: Callable[[Mapping[str, dict[str, Any]]], None] = lambda desired: None,
    vf_requests: VfRequestMode | None = None,
) -> L3Outcome:
    """Plan (l3plan.py), converge the NADs, and settle the L3 status from what the writes did.

    `l2_body` is the L2 network it names (metadata and spec suffice), None when it does not exist.
    `announce` hears the NADs it is about to converge to (namespace/name -> body), before the
    writes (not called when it leaves them as they are). The caller writes the status.
    """
    plan = plan_l3(body, siblings, l2_body, vf_requests)
    if plan.nads is not None:
        announce(plan.nads)
    known = (body.get("status") or {}).get("networkAttachmentDefinitions") or []
    return settle(plan, apply_nads(custom, plan.name, plan.nads, known))
