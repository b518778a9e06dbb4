"""SriovL3Network: effective SR-IOV, cross-object rules, NADs (rendered, repaired, removed).

The NADs go into every namespace of spec.namespaces, or into `default` when
that list is empty. A finalizer (settings.Knobs.finalizer) keeps a deleted L3
network until its NADs are gone. A NAD edited or deleted by hand is put back by
the NAD event handler below; an L2 change re-evaluates the L3 networks on it.
"""

from __future__ import annotations

from typing import Any

import kopf

from kvsriov.api.constants import GROUP, LABEL_L3_NETWORK, LABEL_MANAGED_BY, MANAGED_BY_VALUE, VERSION
from kvsriov_operator.reconcile import (
    L3_PLURAL,
    L3Outcome,
    L3Ref,
    delete_all_nads,
    get_or_none,
    patch_status,
    reconcile_l3,
    status_patch,
)
from kvsriov_operator.render.nad import NAD_GROUP, NAD_PLURAL, NAD_VERSION

L3 = (GROUP, VERSION, L3_PLURAL)
L3Index = kopf.Index[str, L3Ref]


@kopf.index(*L3)
def l3_by_l2(name: str, spec: kopf.Spec, meta: kopf.Meta, **_: Any) -> dict[str, L3Ref]:
    ipam = spec.get("ipam")
    ref = L3Ref(
        name, meta.get("creationTimestamp") or "", ipam and dict(ipam), bool(meta.get("deletionTimestamp"))
    )
    return {spec.get("l2Network", ""): ref}


def _siblings(index: L3Index, body: kopf.Body | dict[str, Any]) -> list[L3Ref]:
    return list(index.get(body["spec"].get("l2Network", ""), []))


def _record(body: Any, outcome: L3Outcome) -> None:
    if outcome.warning:
        kopf.event(body, type="Warning", reason="Refused", message=outcome.warning)


@kopf.on.resume(*L3)
@kopf.on.create(*L3)
@kopf.on.update(*L3)
def reconcile(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, l3_by_l2: L3Index, **_: Any) -> None:
    outcome = reconcile_l3(memo.clients, body, _siblings(l3_by_l2, body))
    patch.status.update(status_patch(body.status, outcome.status))
    _record(body, outcome)


@kopf.on.delete(*L3)
def remove_nads(name: str, spec: kopf.Spec, memo: kopf.Memo, l3_by_l2: L3Index, **_: Any) -> None:
    """The finalizer's work: no NAD outlives its L3 network; siblings may now get freed ranges."""
    delete_all_nads(memo.clients, name)
    for ref in l3_by_l2.get(spec.get("l2Network", ""), []):
        if ref.name != name:
            reevaluate_l3(memo, ref.name, l3_by_l2)


def reevaluate_l3(memo: kopf.Memo, name: str, l3_by_l2: L3Index) -> None:
    """Reconcile one L3 network from outside its own handler (status written through the API)."""
    body = get_or_none(memo.clients, L3_PLURAL, name)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return  # gone or going: its delete handler owns the NADs now
    outcome = reconcile_l3(memo.clients, body, _siblings(l3_by_l2, body))
    patch_status(memo.clients, L3_PLURAL, body, outcome.status)
    _record(body, outcome)


def reevaluate_l3_on(memo: kopf.Memo, l2_name: str, l3_by_l2: L3Index) -> None:
    """The L2 network changed (or appeared, or went): every L3 network on it follows."""
    for ref in list(l3_by_l2.get(l2_name, [])):
        reevaluate_l3(memo, ref.name, l3_by_l2)


@kopf.on.event(NAD_GROUP, NAD_VERSION, NAD_PLURAL, labels={LABEL_MANAGED_BY: MANAGED_BY_VALUE})
def nad_changed(labels: kopf.Labels, memo: kopf.Memo, l3_by_l2: L3Index, **_: Any) -> None:
    """Someone edited or deleted one of our NADs (or we did): re-render its L3 network's NADs."""
    owner = labels.get(LABEL_L3_NETWORK)
    if owner:
        reevaluate_l3(memo, owner, l3_by_l2)
