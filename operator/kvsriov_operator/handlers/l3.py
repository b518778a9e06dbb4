"""SriovL3Network: effective SR-IOV, cross-object rules, NADs (rendered, repaired, removed).

The NADs go into every namespace of spec.namespaces, or into `default` when
that list is empty. Each L3 network has one worker (workers.py), the only writer
of its status and NADs; the handlers below only wake it: its own spec change,
an edited or deleted NAD, a namespace created; the cache (cache.py) wakes it on
an L2 change and a sibling's IPAM change or deletion, and holds the siblings and
L2 specs it reads. A finalizer (settings.Knobs.finalizer) keeps a
deleted L3 network until its NADs are gone; a sweep at start-up removes the NADs of
networks deleted where the finalizer could not act (reconcile.delete_orphaned_nads).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import kopf
from kubernetes.client.exceptions import ApiException

from kvsriov.api.conditions import EventReason
from kvsriov.api.constants import GROUP, LABEL_MANAGED_BY, MANAGED_BY_VALUE, VERSION
from kvsriov.api.kinds import L3_PLURAL
from kvsriov_operator.clients import Clients
from kvsriov_operator.handlers.migration import refresh_all_drain_conditions
from kvsriov_operator.outcomes import L3Outcome
from kvsriov_operator.reconcile import (
    delete_all_nads,
    delete_orphaned_nads,
    l3_exists,
    patch_status,
    reconcile_l3,
)
from kvsriov_operator.render.nad import NAD_GROUP, NAD_PLURAL, NAD_VERSION, drifted, nad_owner
from kvsriov_operator.views import L3Ref
from kvsriov_operator.workers import until, woken

L3 = (GROUP, VERSION, L3_PLURAL)
log = logging.getLogger(__name__)


def _record(body: Any, outcome: L3Outcome) -> None:
    """Refusals and changes (NADs created/updated/removed, SR-IOV on/off) become Events."""
    if outcome.warning:
        kopf.event(body, type="Warning", reason=EventReason.REFUSED, message=outcome.warning)
    for event in outcome.events:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)


def reevaluate_l3(
    clients: Clients,
    body: Mapping[str, Any],
    siblings: list[L3Ref],
    l2_body: Mapping[str, Any] | None,
    loop: asyncio.AbstractEventLoop,
) -> L3Outcome:
    """Reconcile one L3 network (runs in a worker thread); returns what it decided."""
    name = body["metadata"]["name"]

    def announce(desired: Mapping[str, dict[str, Any]]) -> None:
        # Queued on the loop before the first write, so before the echo of that write.
        loop.call_soon_threadsafe(clients.rendered.__setitem__, name, desired)

    custom = clients.custom
    outcome = reconcile_l3(custom, body, siblings, l2_body, announce, clients.vf_requests)
    patch_status(custom, L3_PLURAL, body, outcome.status)
    _record(body, outcome)
    return outcome


@kopf.daemon(*L3, cancellation_timeout=5)
async def l3_worker(
    name: str,
    body: kopf.Body,
    memo: kopf.Memo,
    stopped: kopf.DaemonStopped,
    **_: Any,
) -> None:
    """Reconcile whenever woken, from kopf's live view of the object (no GET per reconcile: kopf
    updates `body` from its watch before the change handler pokes us) and the status this worker
    last wrote (it is the only writer; `body.status` may not show that write yet)."""
    wakeups, cache, rendered = memo.clients.wakeups, memo.clients.cache, memo.clients.rendered
    wake = wakeups.register("l3", name)
    last_status = dict(body.status)
    try:
        if not await until(cache.synced, stopped):  # every sibling and L2 network is known
            return
        while await woken(wake, stopped):
            if body.metadata.get("deletionTimestamp"):
                continue  # going: its delete handler owns the NADs now
            current: dict[str, Any] = {
                "apiVersion": body.get("apiVersion"),
                "kind": body.get("kind"),
                "metadata": dict(body.metadata),
                "spec": dict(body.spec),
                "status": last_status,
            }
            l2_name = current["spec"].get("l2Network", "")
            siblings = cache.l3_on(l2_name)
            l2_body = cache.l2_body(l2_name)
            rendered.pop(name, None)  # until it announces its render, any NAD event wakes it
            loop = asyncio.get_running_loop()
            with memo.clients.metrics.reconciling("l3"):
                outcome = await asyncio.to_thread(
                    reevaluate_l3, memo.clients, current, siblings, l2_body, loop
                )
            last_status = outcome.status
            memo.clients.metrics.l3_ready[name] = any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in last_status.get("conditions") or []
            )
    finally:
        wakeups.unregister("l3", name, wake)
        rendered.pop(name, None)
        memo.clients.metrics.l3_ready.pop(name, None)


@kopf.on.update(*L3)
async def l3_changed(
    name: str,
    memo: kopf.Memo,
    old: kopf.BodyEssence | None = None,
    new: kopf.BodyEssence | None = None,
    **_: Any,
) -> None:
    memo.clients.wakeups.poke("l3", name)
    if _policy(old) != _policy(new):  # VMs on it may now hold drains, or no longer
        await asyncio.to_thread(refresh_all_drain_conditions, memo.clients)


def _policy(essence: kopf.BodyEssence | None) -> str:
    return str(((essence or {}).get("spec") or {}).get("vmMigration") or "Refuse")


@kopf.on.delete(*L3)
async def remove_nads(name: str, memo: kopf.Memo, **_: Any) -> None:
    """The finalizer's work: no NAD outlives its L3 network (the cache wakes the siblings,
    which may now get its freed ranges, when it is marked deleted and when it is gone)."""
    await asyncio.to_thread(delete_all_nads, memo.clients.custom, name)


@kopf.on.startup()
async def start_orphan_sweep(memo: kopf.Memo, **_: Any) -> None:
    """Once the cache has listed the L3 networks: remove the NADs of networks that are gone."""
    memo.orphan_sweep = asyncio.create_task(sweep_orphans(memo.clients))


async def sweep_orphans(clients: Clients) -> None:
    await clients.cache.synced.wait()
    custom = clients.custom
    known = set(clients.cache.l3)  # a network the cache has not seen yet is asked for by name

    def exists(name: str) -> bool:
        return name in known or l3_exists(custom, name)

    try:
        removed = await asyncio.to_thread(delete_orphaned_nads, custom, exists)
    except ApiException as exc:  # not fatal: the finalizer still covers every deletion we see
        log.warning("could not look for NADs of deleted L3 networks: %s", f"{exc.status} {exc.reason}")
        return
    if removed:
        log.info("removed %d NADs of L3 networks that no longer exist: %s", len(removed), ", ".join(removed))


@kopf.on.cleanup()
async def stop_orphan_sweep(memo: kopf.Memo, **_: Any) -> None:
    task = getattr(memo, "orphan_sweep", None)
    if task is not None:
        task.cancel()


@kopf.on.event(NAD_GROUP, NAD_VERSION, NAD_PLURAL, labels={LABEL_MANAGED_BY: MANAGED_BY_VALUE})
async def nad_changed(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    """Someone edited or deleted one of our NADs: its L3 network's worker checks them. The echo of
    a worker's own write (the NAD exactly as it last rendered it) wakes nobody: that would cost
    every L3 network a second reconcile (a NAD list) at start-up for nothing."""
    owner = nad_owner(body)
    if not owner:
        return
    wanted = memo.clients.rendered.get(owner)
    key = f"{body.metadata.get('namespace')}/{body.metadata.get('name')}"
    if type != "DELETED" and wanted is not None and key in wanted and not drifted(body, wanted[key]):
        return
    memo.clients.wakeups.poke("l3", owner)


@kopf.on.event("", "v1", "namespaces")
async def namespace_added(name: str, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    """A NAD that could not be written because its namespace did not exist appears once it does.
    (The initial listing, type None, is covered by every worker's first run.)"""
    if type == "ADDED":
        memo.clients.wakeups.poke_all("l3", memo.clients.cache.l3_in_namespace(name))
