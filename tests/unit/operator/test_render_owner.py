"""Which NADs the operator may write or delete: the owner mark, not the labels (render/owner.py)."""

from __future__ import annotations

from typing import Any

from kvsriov.api.constants import LABEL_L3_NETWORK, LABEL_MANAGED_BY, MANAGED_BY_VALUE
from kvsriov_operator.render.owner import (
    Ownership,
    foreign_owner,
    owner_of,
    owner_reference,
    owner_references,
    ownership,
)

OURS = {LABEL_L3_NETWORK: "l3-a", LABEL_MANAGED_BY: MANAGED_BY_VALUE}


def nad(labels: dict[str, str] | None = None, refs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "l3-a", "namespace": "default", "labels": labels or {}}
    if refs is not None:
        meta["ownerReferences"] = refs
    return {"metadata": meta, "spec": {"config": "{}"}}


def test_the_owner_mark_decides_even_without_labels() -> None:
    assert ownership(nad(refs=[owner_reference("l3-a", "u1")]), "l3-a") is Ownership.OURS
    assert owner_of(nad(refs=[owner_reference("l3-a", "u1")])) == "l3-a"


def test_a_network_created_again_under_the_same_name_owns_the_nad() -> None:
    assert ownership(nad(OURS, [owner_reference("l3-a", "old-uid")]), "l3-a") is Ownership.OURS


def test_an_earlier_kvsriovs_nad_with_labels_only_is_adopted() -> None:
    assert ownership(nad(OURS), "l3-a") is Ownership.LEGACY
    assert ownership(nad(OURS), "l3-b") is Ownership.FOREIGN  # labelled for another network


def test_a_users_nad_is_foreign_whatever_labels_it_copies() -> None:
    assert ownership(nad(), "l3-a") is Ownership.FOREIGN
    assert ownership(nad({LABEL_L3_NETWORK: "l3-a"}), "l3-a") is Ownership.FOREIGN  # no managed-by
    other = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "net", "uid": "u2", "controller": True}
    assert ownership(nad(OURS, [other]), "l3-a") is Ownership.FOREIGN
    assert owner_of(nad(OURS, [other])) is None
    assert foreign_owner(nad(OURS, [other])) == "controlled by Deployment net"
    assert foreign_owner(nad()) == "not created by kvsriov"


def test_adopting_keeps_others_references_and_replaces_a_stale_one() -> None:
    theirs = {"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "uid": "u3"}
    ours = owner_reference("l3-a", "new-uid")
    refs = owner_references(nad(OURS, [owner_reference("l3-a", "old-uid"), theirs]), ours)
    assert refs == [ours, theirs]
