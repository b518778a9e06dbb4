"""Which NADs the operator writes: its own by the owner mark (not the labels), never a user's;
and an L3 network is Ready only once every NAD it wants exists. On both API servers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest
from operator_helpers import Cluster, running_operator

from kvsriov.api.constants import LABEL_L3_NETWORK, LABEL_MANAGED_BY, MANAGED_BY_VALUE
from kvsriov.api.kinds import L3_PLURAL
from kvsriov.sandbox.wait import wait_for
from kvsriov_operator.render.nad import NAD_GROUP, NAD_PLURAL, NAD_VERSION

pytestmark = pytest.mark.both_servers

MACVLAN = json.dumps({"cniVersion": "1.0.0", "name": "l3-a", "type": "macvlan", "master": "eth0"})


@pytest.fixture
def cluster(kube_client: kubernetes.client.ApiClient) -> Cluster:
    """node-1 selected with em2 sliced, and the L2 network l2-em2 on VLAN 100."""
    cluster = Cluster(kube_client)
    cluster.node("node-1")
    cluster.nic("node-1", "em2", "Virtualized")
    cluster.l2("l2-em2", "em2", vlan=100)
    return cluster


@pytest.fixture
def operator(kube_client: kubernetes.client.ApiClient) -> Iterator[None]:
    with running_operator(kube_client):
        yield


def user_nad(cluster: Cluster, name: str, config: str, labels: dict[str, str] | None = None) -> None:
    """A NAD created by hand (or by an earlier kvsriov, with its labels) in `default`."""
    body = {
        "apiVersion": f"{NAD_GROUP}/{NAD_VERSION}",
        "kind": "NetworkAttachmentDefinition",
        "metadata": {"name": name, "namespace": "default", "labels": labels or {}},
        "spec": {"config": config},
    }
    cluster.custom.create_namespaced_custom_object(NAD_GROUP, NAD_VERSION, "default", NAD_PLURAL, body)


def patch_nad(cluster: Cluster, name: str, patch: dict[str, Any]) -> None:
    cluster.custom.patch_namespaced_custom_object(NAD_GROUP, NAD_VERSION, "default", NAD_PLURAL, name, patch)


def ready(cluster: Cluster, name: str) -> dict[str, Any]:
    return cluster.condition(L3_PLURAL, name, "Ready")


def warnings_of(cluster: Cluster, name: str) -> list[tuple[str, str]]:
    return [
        (e.reason, e.message)
        for e in cluster.core.list_event_for_all_namespaces().items
        if e.involved_object.name == name and e.type == "Warning"
    ]


def test_a_nad_stripped_of_its_labels_and_broken_is_put_back(cluster: Cluster, operator: None) -> None:
    cluster.l3("l3-a", "l2-em2")
    wait_for(lambda: ready(cluster, "l3-a").get("status") == "True", timeout=20, what="l3-a Ready")
    stripped = {LABEL_L3_NETWORK: None, LABEL_MANAGED_BY: None}
    broken = json.dumps({"cniVersion": "1.0.0", "name": "l3-a", "type": "sriov", "vlan": 999})
    patch_nad(cluster, "l3-a", {"metadata": {"labels": stripped}, "spec": {"config": broken}})
    wait_for(
        lambda: (cluster.nad_config("default", "l3-a") or {}).get("vlan") == 100,
        timeout=20,
        what="the label-less, hand-broken NAD re-rendered with VLAN 100",
    )
    nad = cluster.nad("default", "l3-a")
    assert nad is not None and nad["metadata"]["labels"][LABEL_L3_NETWORK] == "l3-a"

    cluster.patch("sriovl2networks", "l2-em2", {"spec": {"vlan": 200}})  # and it follows the spec again
    wait_for(
        lambda: (cluster.nad_config("default", "l3-a") or {}).get("vlan") == 200,
        timeout=20,
        what="the repaired NAD following the L2 network's new VLAN",
    )
    assert ready(cluster, "l3-a")["status"] == "True"


def test_a_nad_stripped_of_its_labels_still_goes_with_its_namespace(
    cluster: Cluster, kube_client: kubernetes.client.ApiClient
) -> None:
    """Its labels removed and its namespace taken out of spec.namespaces while the operator is
    down: no label selector finds it any more, but it is still ours, so it does not stay behind."""
    with running_operator(kube_client):
        cluster.l3("l3-a", "l2-em2", namespaces=["default", "kube-public"])
        wait_for(lambda: ready(cluster, "l3-a").get("status") == "True", timeout=20, what="l3-a Ready")
    patch_nad(cluster, "l3-a", {"metadata": {"labels": {LABEL_L3_NETWORK: None, LABEL_MANAGED_BY: None}}})
    cluster.patch(L3_PLURAL, "l3-a", {"spec": {"namespaces": ["kube-public"]}})
    with running_operator(kube_client):
        wait_for(lambda: cluster.nad("default", "l3-a") is None, timeout=20, what="default/l3-a removed")
        wait_for(
            lambda: (
                cluster.get(L3_PLURAL, "l3-a")["status"]["networkAttachmentDefinitions"]
                == ["kube-public/l3-a", "kube-public/l3-a-vnic"]
            ),
            timeout=20,
            what="only kube-public's NADs listed",
        )


def test_a_users_nad_of_the_same_name_is_never_taken_over(cluster: Cluster, operator: None) -> None:
    user_nad(cluster, "l3-a", MACVLAN)
    cluster.l3("l3-a", "l2-em2")
    cond = wait_for(
        lambda: (c := ready(cluster, "l3-a")).get("status") == "False" and c,
        timeout=20,
        what="l3-a Ready=False: a NAD of its name is in the way",
    )
    assert cond["reason"] == "NADConflict"
    assert "default/l3-a" in cond["message"] and "rename or delete it" in cond["message"]
    wait_for(
        lambda: any(r == "NADConflict" and "default/l3-a" in m for r, m in warnings_of(cluster, "l3-a")),
        timeout=20,
        what="a Warning Event NADConflict on l3-a",
    )
    assert (cluster.nad_config("default", "l3-a") or {}).get("type") == "macvlan"  # untouched
    assert cluster.nad("default", "l3-a-vnic") is not None  # the other NAD is rendered
    assert cluster.get(L3_PLURAL, "l3-a")["status"]["networkAttachmentDefinitions"] == ["default/l3-a-vnic"]

    cluster.custom.delete_namespaced_custom_object(NAD_GROUP, NAD_VERSION, "default", NAD_PLURAL, "l3-a")
    wait_for(
        lambda: (cluster.nad_config("default", "l3-a") or {}).get("type") == "sriov",
        timeout=20,
        what="our NAD once the user's is deleted",
    )
    wait_for(lambda: ready(cluster, "l3-a").get("status") == "True", timeout=20, what="l3-a Ready again")


def test_a_nad_of_an_earlier_kvsriov_is_adopted(cluster: Cluster, operator: None) -> None:
    """An earlier kvsriov marked its NADs with labels only: they stay this network's after an
    upgrade (re-rendered, no conflict) and get the owner mark, so losing the labels later
    no longer loses them."""
    legacy = {LABEL_L3_NETWORK: "l3-a", LABEL_MANAGED_BY: MANAGED_BY_VALUE}
    user_nad(cluster, "l3-a", json.dumps({"type": "sriov", "vlan": 999}), labels=legacy)
    cluster.l3("l3-a", "l2-em2")
    wait_for(
        lambda: (cluster.nad_config("default", "l3-a") or {}).get("vlan") == 100,
        timeout=20,
        what="the earlier kvsriov's NAD re-rendered",
    )
    wait_for(lambda: ready(cluster, "l3-a").get("status") == "True", timeout=20, what="l3-a Ready")
    nad = cluster.nad("default", "l3-a")
    assert nad is not None
    uid = cluster.get(L3_PLURAL, "l3-a")["metadata"]["uid"]
    refs = nad["metadata"].get("ownerReferences") or []
    assert [(r["kind"], r["name"], r["uid"], r.get("controller")) for r in refs] == [
        ("SriovL3Network", "l3-a", uid, True)
    ]


def test_a_missing_namespace_keeps_the_network_not_ready_until_it_exists(
    cluster: Cluster, operator: None
) -> None:
    team = f"team-{uuid.uuid4().hex[:8]}"  # the real API server is shared by the session
    cluster.l3("l3-a", "l2-em2", namespaces=["default", team])
    cond = wait_for(
        lambda: (c := ready(cluster, "l3-a")).get("status") == "False" and c,
        timeout=20,
        what=f"l3-a Ready=False: namespace {team} missing",
    )
    assert cond["reason"] == "NamespaceMissing"
    assert cond["message"] == f"namespace {team} does not exist; create it, or remove it from spec.namespaces"
    assert cluster.nad("default", "l3-a") is not None  # the namespaces that exist get theirs
    cluster.core.create_namespace({"metadata": {"name": team}})
    wait_for(lambda: ready(cluster, "l3-a").get("status") == "True", timeout=20, what="l3-a Ready by itself")
    assert cluster.nad(team, "l3-a") is not None
