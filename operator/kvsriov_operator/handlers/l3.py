"""SriovL3Network: effective SR-IOV, cross-object rules, NADs (rendered, repaired, removed).

The NADs go into every namespace of spec.namespaces, or into `default` when
that list is empty. Each L3 network has one worker (workers.py), the only writer
of its status and NADs; the handlers below only wake it: its own spec change,
an L2 change (handlers/l2.py), a sibling's IPAM change, an edited or deleted
NAD, a namespace created. A finalizer (settings.Knobs.finalizer) keeps a
deleted L3 network until its NADs are gone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import kopf

from kvsriov.api.conditions import EventReason
from kvsriov.api.constants import GROUP, LABEL_L3_NETWORK, LABEL_MANAGED_BY, MANAGED_BY_VALUE, VERSION
from kvsriov_operator.reconcile import (
    L2_PLURAL,
    L3_PLURAL,
    L3Outcome,
    L3Ref,
    delete_all_nads,
    get_or_none,
    patch_status,
    reconcile_l3,
)
from kvsriov_operator.render.nad import DEFAULT_NAMESPACE, NAD_GROUP, NAD_PLURAL, NAD_VERSION
from kvsriov_operator.settings import Clients
from kvsriov_operator.workers import woken

L3 = (GROUP, VERSION, L3_PLURAL)
L3Index = kopf.Index[str, L3Ref]


@kopf.index(*L3)
async def l3_by_l2(name: str, spec: kopf.Spec, meta: kopf.Meta, **_: Any) -> dict[str, L3Ref]:
    ipam = spec.get("ipam")
    ref = L3Ref(
        name, meta.get("creationTimestamp") or "", ipam and dict(ipam), bool(meta.get("deletionTimestamp"))
    )
    return {spec.get("l2Network", ""): ref}


@kopf.index(*L3)
async def l3_by_namespace(name: str, spec: kopf.Spec, **_: Any) -> dict[str, str]:
    """The namespaces an L3 network renders NADs into (render/nad.py's default when empty)."""
    return {namespace: name for namespace in spec.get("namespaces") or [DEFAULT_NAMESPACE]}


@kopf.index(GROUP, VERSION, L2_PLURAL)
async def l2_specs(name: str, meta: kopf.Meta, spec: kopf.Spec, **_: Any) -> dict[str, dict[str, Any]]:
    """What an L3 network needs of its L2 network (not its status: thousands of node names)."""
    return {name: {"metadata": {"name": name, "generation": meta.get("generation")}, "spec": dict(spec)}}


L2Specs = kopf.Index[str, dict[str, Any]]


def _record(body: Any, outcome: L3Outcome) -> None:
    """Refusals and changes (NADs created/updated/removed, SR-IOV on/off) become Events."""
    if outcome.warning:
        kopf.event(body, type="Warning", reason=EventReason.REFUSED, message=outcome.warning)
    for event in outcome.events:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)


def reevaluate_l3(
    clients: Clients, name: str, siblings: list[L3Ref], l2_body: Mapping[str, Any] | None
) -> None:
    """Reconcile one L3 network from its current state in the API (runs in a worker thread)."""
    body = get_or_none(clients, L3_PLURAL, name)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return  # gone or going: its delete handler owns the NADs now
    outcome = reconcile_l3(clients, body, siblings, l2_body)
    patch_status(clients, L3_PLURAL, body, outcome.status)
    _record(body, outcome)


@kopf.daemon(*L3, cancellation_timeout=5)
async def l3_worker(
    name: str,
    spec: kopf.Spec,
    memo: kopf.Memo,
    stopped: kopf.DaemonStopped,
    l3_by_l2: L3Index,
    l2_specs: L2Specs,
    **_: Any,
) -> None:
    wakeups = memo.clients.wakeups
    wake = wakeups.register("l3", name)
    try:
        while await woken(wake, stopped):
            l2_name = spec.get("l2Network", "")
            siblings = list(l3_by_l2.get(l2_name, []))
            l2_body = next(iter(l2_specs.get(l2_name, [])), None)
            await asyncio.to_thread(reevaluate_l3, memo.clients, name, siblings, l2_body)
    finally:
        wakeups.unregister("l3", name, wake)


@kopf.on.update(*L3)
async def l3_changed(name: str, memo: kopf.Memo, **_: Any) -> None:
    memo.clients.wakeups.poke("l3", name)


def _siblings_of(name: str, spec: kopf.Spec, l3_by_l2: L3Index) -> list[str]:
    return [ref.name for ref in l3_by_l2.get(spec.get("l2Network", ""), []) if ref.name != name]


@kopf.on.update(*L3, field="spec.ipam")
async def ipam_changed(name: str, spec: kopf.Spec, memo: kopf.Memo, l3_by_l2: L3Index, **_: Any) -> None:
    """Moved or shrunk ranges: a sibling refused for overlapping the old ones may now be accepted."""
    memo.clients.wakeups.poke_all("l3", _siblings_of(name, spec, l3_by_l2))


@kopf.on.delete(*L3)
async def remove_nads(name: str, spec: kopf.Spec, memo: kopf.Memo, l3_by_l2: L3Index, **_: Any) -> None:
    """The finalizer's work: no NAD outlives its L3 network; siblings may now get freed ranges."""
    await asyncio.to_thread(delete_all_nads, memo.clients, name)
    memo.clients.wakeups.poke_all("l3", _siblings_of(name, spec, l3_by_l2))


@kopf.on.event(NAD_GROUP, NAD_VERSION, NAD_PLURAL, labels={LABEL_MANAGED_BY: MANAGED_BY_VALUE})
async def nad_changed(labels: kopf.Labels, memo: kopf.Memo, **_: Any) -> None:
    """Someone edited or deleted one of our NADs (or we did): its L3 network's worker checks them."""
    owner = labels.get(LABEL_L3_NETWORK)
    if owner:
        memo.clients.wakeups.poke("l3", owner)


@kopf.on.event("", "v1", "namespaces")
async def namespace_added(
    name: str, type: str | None, memo: kopf.Memo, l3_by_namespace: kopf.Index[str, str], **_: Any
) -> None:
    """A NAD that could not be written because its namespace did not exist appears once it does.
    (The initial listing, type None, is covered by every worker's first run.)"""
    if type == "ADDED":
        memo.clients.wakeups.poke_all("l3", list(l3_by_namespace.get(name, [])))
