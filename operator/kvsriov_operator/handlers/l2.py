"""SriovL2Network: per-node effectiveness, re-evaluated on L2, NIC and Node changes.

NICs and Node labels come from our own cache (cache.py: kopf's indexes cost
O(objects^2) at start for 12,500 of them); each L2 worker records there what it
evaluated (interface, selector, listed nodes), so a NIC or Node event wakes only
the L2 networks it concerns; an L2 spec change or deletion wakes its L3
networks from there too. Each L2 network's worker is the only writer of its status.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import kopf

from kvsriov.api.constants import GROUP, VERSION
from kvsriov.api.kinds import L2_PLURAL
from kvsriov_operator.cache import L2Interest
from kvsriov_operator.clients import Clients
from kvsriov_operator.reconcile import effectiveness_event, l2_status_of, patch_status
from kvsriov_operator.views import NicView
from kvsriov_operator.workers import Backoff, reconcile_failed, retry_after, until, woken

L2 = (GROUP, VERSION, L2_PLURAL)


def _listed(status: Mapping[str, Any]) -> list[str]:
    nodes = status.get("nodes") or {}
    return [*nodes.get("sliced", []), *(n.get("node") for n in nodes.get("notSliced", []))]


def _refresh(
    clients: Clients, body: Mapping[str, Any], nodes: Mapping[str, Mapping[str, str]], nics: list[NicView]
) -> dict[str, Any]:
    """Compute and write the status (in a worker thread: thousands of nodes are parsed)."""
    new = l2_status_of(body, nodes, nics)
    patch_status(clients.custom, L2_PLURAL, body, new)
    return new


@kopf.daemon(*L2, cancellation_timeout=5)
async def l2_worker(
    name: str,
    body: kopf.Body,
    memo: kopf.Memo,
    stopped: kopf.DaemonStopped,
    **_: Any,
) -> None:
    """Recompute the status whenever woken (its L3 networks are woken by the cache on spec changes)."""
    wakeups, cache = memo.clients.wakeups, memo.clients.cache
    wake = wakeups.register("l2", name)
    last_status = dict(body.status)
    backoff = Backoff()
    try:
        if not await until(cache.synced, stopped):  # every NIC and Node is known
            return
        while await woken(wake, stopped):
            current: dict[str, Any] = {
                "apiVersion": body.get("apiVersion"),
                "kind": body.get("kind"),
                "metadata": dict(body.metadata),
                "spec": dict(body.spec),
                "status": last_status,
            }
            interface = current["spec"].get("physicalInterface", "")
            selector = current["spec"].get("nodeSelector") or {}
            # Registered before computing: a NIC or Node change from now on wakes us again.
            cache.l2[name] = L2Interest(interface, selector, _listed(last_status))
            nics = cache.nics_on(interface)
            try:
                with memo.clients.metrics.reconciling("l2"):
                    new = await asyncio.to_thread(_refresh, memo.clients, current, cache.node_labels(), nics)
            except Exception as exc:  # any failure: retried, never the end of the worker
                delay = reconcile_failed(body, "SriovL2Network", exc, backoff)
                if not await retry_after(delay, wake, stopped):
                    return
                continue
            backoff.succeeded()
            memo.clients.metrics.l2_nodes[name] = _node_counts(new)
            cache.l2[name] = L2Interest(interface, selector, _listed(new))
            event = effectiveness_event(last_status, new)
            if event is not None:
                kopf.event(body, type=event.type, reason=event.reason, message=event.message)
            last_status = new
    finally:
        wakeups.unregister("l2", name, wake)
        cache.l2.pop(name, None)
        memo.clients.metrics.l2_nodes.pop(name, None)


def _node_counts(status: dict[str, Any]) -> tuple[int, int]:
    """(nodes where SR-IOV is effective, nodes selected) from an L2 status."""
    nodes = status.get("nodes") or {}
    sliced = len(nodes.get("sliced") or [])
    return sliced, sliced + len(nodes.get("notSliced") or [])


@kopf.on.update(*L2)
async def l2_changed(name: str, memo: kopf.Memo, **_: Any) -> None:
    memo.clients.wakeups.poke("l2", name)
