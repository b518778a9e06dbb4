"""SriovL2Network: per-node effectiveness, re-evaluated on L2, NIC and Node changes.

Indices (kopf keeps them current before any handler runs) hold what readiness
needs: Node labels, NICs by interface, L2 networks by interface and by name.
A NIC or Node event therefore finds the affected L2 networks without listing
and wakes their workers (workers.py); each L2 network's worker is the only
writer of its status.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import kopf

from kvsriov.api.constants import GROUP, VERSION
from kvsriov_operator.handlers.l3 import L3Index
from kvsriov_operator.readiness import NicView, selects
from kvsriov_operator.reconcile import L2_PLURAL, effectiveness_event, l2_status_of, patch_status
from kvsriov_operator.workers import woken

L2 = (GROUP, VERSION, L2_PLURAL)
NIC = (GROUP, VERSION, "sriovphysicalnics")
NODE = ("", "v1", "nodes")


class L2Selection:
    __slots__ = ("listed", "selector")

    def __init__(self, selector: dict[str, str], listed: frozenset[str]) -> None:
        self.selector = selector
        self.listed = listed


@kopf.index(*NODE)
async def node_labels(name: str, labels: Mapping[str, str], **_: Any) -> dict[str, dict[str, str]]:
    return {name: dict(labels)}


@kopf.index(*NIC)
async def nics_by_interface(body: kopf.Body, **_: Any) -> dict[str, NicView]:
    nic = NicView.from_body(body)
    return {nic.interface: nic}


@kopf.index(*L2)
async def l2_by_interface(name: str, spec: kopf.Spec, **_: Any) -> dict[str, str]:
    return {spec.get("physicalInterface", ""): name}


@kopf.index(*L2)
async def l2_selection(name: str, spec: kopf.Spec, status: kopf.Status, **_: Any) -> dict[str, L2Selection]:
    """What a Node event needs to know: the selector and the nodes the status lists."""
    nodes = status.get("nodes") or {}
    listed = frozenset([*nodes.get("sliced", []), *(n.get("node") for n in nodes.get("notSliced", []))])
    return {name: L2Selection(dict(spec.get("nodeSelector") or {}), listed)}


def _nodes(index: kopf.Index[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {name: next(iter(store)) for name, store in index.items() if store}


def _nics(index: kopf.Index[str, NicView], interface: str) -> list[NicView]:
    return list(index.get(interface, []))


def _refresh(
    clients: Any, body: Mapping[str, Any], nodes: Mapping[str, Mapping[str, str]], nics: list[NicView]
) -> dict[str, Any]:
    """Compute and write the status (in a worker thread: thousands of nodes are parsed)."""
    new = l2_status_of(body, nodes, nics)
    patch_status(clients, L2_PLURAL, body, new)
    return new


@kopf.daemon(*L2, cancellation_timeout=5)
async def l2_worker(
    name: str,
    body: kopf.Body,
    memo: kopf.Memo,
    stopped: kopf.DaemonStopped,
    node_labels: kopf.Index[str, dict[str, str]],
    nics_by_interface: kopf.Index[str, NicView],
    l3_by_l2: L3Index,
    **_: Any,
) -> None:
    """Recompute the status whenever woken; wake the L3 networks on it when its spec changed."""
    wakeups = memo.clients.wakeups
    wake = wakeups.register("l2", name)
    last_status, last_spec = dict(body.status), None
    try:
        while await woken(wake, stopped):
            current = {
                "apiVersion": body.get("apiVersion"),
                "kind": body.get("kind"),
                "metadata": dict(body.metadata),
                "spec": dict(body.spec),
                "status": last_status,
            }
            nics = _nics(nics_by_interface, current["spec"].get("physicalInterface", ""))
            new = await asyncio.to_thread(_refresh, memo.clients, current, _nodes(node_labels), nics)
            event = effectiveness_event(last_status, new)
            if event is not None:
                kopf.event(current, type=event.type, reason=event.reason, message=event.message)
            last_status = new
            if current["spec"] != last_spec:
                last_spec = current["spec"]
                wakeups.poke_all("l3", [ref.name for ref in l3_by_l2.get(name, [])])
    finally:
        wakeups.unregister("l2", name, wake)


@kopf.on.update(*L2)
async def l2_changed(name: str, memo: kopf.Memo, **_: Any) -> None:
    memo.clients.wakeups.poke("l2", name)


@kopf.on.delete(*L2, optional=True)
async def l2_deleted(name: str, memo: kopf.Memo, l3_by_l2: L3Index, **_: Any) -> None:
    memo.clients.wakeups.poke_all("l3", [ref.name for ref in l3_by_l2.get(name, [])])


@kopf.on.event(*NIC)
async def nic_changed(
    spec: kopf.Spec, memo: kopf.Memo, l2_by_interface: kopf.Index[str, str], **_: Any
) -> None:
    """A NIC appeared, changed status or vanished: re-evaluate the L2 networks on its interface."""
    memo.clients.wakeups.poke_all("l2", l2_by_interface.get(spec.get("interface", ""), []))


@kopf.on.event(*NODE)
async def node_changed(
    name: str,
    type: str | None,
    labels: Mapping[str, str],
    memo: kopf.Memo,
    l2_selection: kopf.Index[str, L2Selection],
    **_: Any,
) -> None:
    """Re-evaluate the L2 networks whose selection of this node changed (labels, add, delete)."""
    for l2_name, store in l2_selection.items():
        for selection in store:
            selected = type != "DELETED" and selects(selection.selector, labels)
            if selected != (name in selection.listed):
                memo.clients.wakeups.poke("l2", l2_name)
