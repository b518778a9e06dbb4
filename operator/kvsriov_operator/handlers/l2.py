"""SriovL2Network: per-node effectiveness, re-evaluated on L2, NIC and Node changes.

Indices (kopf keeps them current before any handler runs) hold what readiness
needs: Node labels, NICs by interface, L2 networks by interface and by name.
A NIC or Node event therefore finds the affected L2 networks without listing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from kvsriov.api.constants import GROUP, VERSION
from kvsriov_operator.handlers.l3 import L3Index, reevaluate_l3_on
from kvsriov_operator.readiness import NicView, selects
from kvsriov_operator.reconcile import L2_PLURAL, l2_status_of, patch_status, status_patch

L2 = (GROUP, VERSION, L2_PLURAL)
NIC = (GROUP, VERSION, "sriovphysicalnics")
NODE = ("", "v1", "nodes")


@kopf.index(*NODE)
def node_labels(name: str, labels: Mapping[str, str], **_: Any) -> dict[str, dict[str, str]]:
    return {name: dict(labels)}


@kopf.index(*NIC)
def nics_by_interface(body: kopf.Body, **_: Any) -> dict[str, NicView]:
    nic = NicView.from_body(body)
    return {nic.interface: nic}


@kopf.index(*L2)
def l2_by_interface(name: str, spec: kopf.Spec, **_: Any) -> dict[str, str]:
    return {spec.get("physicalInterface", ""): name}


@kopf.index(*L2)
def l2_bodies(name: str, body: kopf.Body, **_: Any) -> dict[str, dict[str, Any]]:
    return {name: {"metadata": dict(body.metadata), "spec": dict(body.spec), "status": dict(body.status)}}


def _nodes(index: kopf.Index[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {name: next(iter(store)) for name, store in index.items() if store}


def _nics(index: kopf.Index[str, NicView], interface: str) -> list[NicView]:
    return list(index.get(interface, []))


@kopf.on.resume(*L2)
@kopf.on.create(*L2)
@kopf.on.update(*L2)
def reconcile_l2(
    body: kopf.Body,
    patch: kopf.Patch,
    memo: kopf.Memo,
    node_labels: kopf.Index[str, dict[str, str]],
    nics_by_interface: kopf.Index[str, NicView],
    l3_by_l2: L3Index,
    **_: Any,
) -> None:
    new = l2_status_of(body, _nodes(node_labels), _nics(nics_by_interface, body.spec["physicalInterface"]))
    patch.status.update(status_patch(body.status, new))
    reevaluate_l3_on(memo, body.metadata.name, l3_by_l2)


@kopf.on.delete(*L2, optional=True)
def l2_deleted(name: str, memo: kopf.Memo, l3_by_l2: L3Index, **_: Any) -> None:
    reevaluate_l3_on(memo, name, l3_by_l2)


def _refresh(
    memo: kopf.Memo,
    body: Mapping[str, Any],
    nodes: kopf.Index[str, dict[str, str]],
    nics: kopf.Index[str, NicView],
) -> None:
    new = l2_status_of(body, _nodes(nodes), _nics(nics, body["spec"]["physicalInterface"]))
    patch_status(memo.clients, L2_PLURAL, body, new)


@kopf.on.event(*NIC)
def nic_changed(
    spec: kopf.Spec,
    memo: kopf.Memo,
    node_labels: kopf.Index[str, dict[str, str]],
    nics_by_interface: kopf.Index[str, NicView],
    l2_by_interface: kopf.Index[str, str],
    l2_bodies: kopf.Index[str, dict[str, Any]],
    **_: Any,
) -> None:
    """A NIC appeared, changed status or vanished: re-evaluate the L2 networks on its interface."""
    for l2_name in l2_by_interface.get(spec.get("interface", ""), []):
        for body in l2_bodies.get(l2_name, []):
            _refresh(memo, body, node_labels, nics_by_interface)


@kopf.on.event(*NODE)
def node_changed(
    name: str,
    type: str | None,
    labels: Mapping[str, str],
    memo: kopf.Memo,
    node_labels: kopf.Index[str, dict[str, str]],
    nics_by_interface: kopf.Index[str, NicView],
    l2_bodies: kopf.Index[str, dict[str, Any]],
    **_: Any,
) -> None:
    """Re-evaluate the L2 networks whose selection of this node changed (labels, add, delete)."""
    for store in l2_bodies.values():
        for body in store:
            selected = type != "DELETED" and selects(body["spec"].get("nodeSelector") or {}, labels)
            nodes = (body.get("status") or {}).get("nodes") or {}
            listed = name in nodes.get("sliced", []) or any(
                n.get("node") == name for n in nodes.get("notSliced", [])
            )
            if selected != listed:
                _refresh(memo, body, node_labels, nics_by_interface)
