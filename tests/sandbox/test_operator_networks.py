"""The real kopf operator against the emulated API server: the reference flow for L2/L3 networks."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest
import yaml
from operator_helpers import Cluster, running_operator

from kvsriov.api.constants import GROUP, LABEL_L3_NETWORK, NAD_RESOURCE_ANNOTATION, VERSION
from kvsriov.api.kinds import L2_PLURAL, L3_PLURAL
from kvsriov.sandbox.wait import wait_for
from kvsriov_operator.render.cloudinit import fill

L2S, L3S = L2_PLURAL, L3_PLURAL


@pytest.fixture
def cluster(kube_client: kubernetes.client.ApiClient) -> Cluster:
    return Cluster(kube_client)


@pytest.fixture
def operator(kube_client: kubernetes.client.ApiClient) -> Iterator[None]:
    with running_operator(kube_client):
        yield


@pytest.fixture
def em2_sliced(cluster: Cluster) -> Cluster:
    """node-1 and node-2 selected, em2 Virtualized on both, em1 only Virtualizable."""
    for node in ("node-1", "node-2"):
        cluster.node(node)
        cluster.nic(node, "em2", "Virtualized")
        cluster.nic(node, "em1", "Virtualizable", num_vfs=0)
    return cluster


def effective(cluster: Cluster, name: str) -> str | None:
    return (cluster.get(L2S, name).get("status") or {}).get("effective")


def wait_condition(cluster: Cluster, plural: str, name: str, type_: str, status: str, what: str) -> dict:
    return wait_for(
        lambda: (c := cluster.condition(plural, name, type_)).get("status") == status and c,
        timeout=20,
        what=what,
    )


def test_reference_flow_renders_a_nad_with_vlan_and_resource(em2_sliced: Cluster, operator: None) -> None:
    cluster = em2_sliced
    cluster.l2("l2-em2", "em2", vlan=100)
    cond = wait_condition(cluster, L2S, "l2-em2", "SriovEffective", "True", "SriovEffective True on l2-em2")
    assert effective(cluster, "l2-em2") == "2/2"
    assert cond["observedGeneration"] == 1
    status = cluster.get(L2S, "l2-em2")["status"]
    assert status["nodes"]["sliced"] == ["node-1", "node-2"]
    assert status["resourceName"] == "kvsriov.io/em2"

    cluster.l3("l3-vlan100", "l2-em2")
    config = wait_for(lambda: cluster.nad_config("default", "l3-vlan100"), timeout=20, what="the NAD")
    assert config["type"] == "sriov"
    assert config["vlan"] == 100
    nad = cluster.nad("default", "l3-vlan100")
    assert nad is not None
    assert nad["metadata"]["annotations"][NAD_RESOURCE_ANNOTATION] == "kvsriov.io/em2"
    assert nad["metadata"]["labels"][LABEL_L3_NETWORK] == "l3-vlan100"
    wait_condition(cluster, L3S, "l3-vlan100", "Ready", "True", "the L3 network Ready")
    status = cluster.get(L3S, "l3-vlan100")["status"]
    assert status["networkAttachmentDefinitions"] == ["default/l3-vlan100", "default/l3-vlan100-vnic"]
    assert status["sriovEnabled"] is True
    assert status["resourceName"] == "kvsriov.io/em2"
    # the guest's address on its VF NIC: cloud-init networkData from the L3 network
    cloud_init = status["cloudInit"]
    assert cloud_init["staticAddresses"] == "192.168.100.2-192.168.100.9, 192.168.100.201-192.168.100.254"
    guest = yaml.safe_load(fill(cloud_init["networkData"], "52:54:00:12:34:56", "192.168.100.201"))
    assert guest["ethernets"]["l3-vlan100"]["addresses"] == ["192.168.100.201/24"]
    assert guest["ethernets"]["l3-vlan100"]["match"] == {"macaddress": "52:54:00:12:34:56"}


def test_unsliced_nic_is_not_effective_and_lists_the_nodes(em2_sliced: Cluster, operator: None) -> None:
    cluster = em2_sliced
    cluster.l2("l2-em1", "em1")
    cond = wait_condition(cluster, L2S, "l2-em1", "SriovEffective", "False", "SriovEffective False")
    assert "0/2" in cond["message"]
    not_sliced = cluster.get(L2S, "l2-em1")["status"]["nodes"]["notSliced"]
    assert [(n["node"], n["reason"]) for n in not_sliced] == [
        ("node-1", "NotSliced"),
        ("node-2", "NotSliced"),
    ]
    assert cluster.condition(L2S, "l2-em1", "Ready")["status"] == "True"


def test_nic_status_and_node_labels_change_effectiveness(em2_sliced: Cluster, operator: None) -> None:
    cluster = em2_sliced
    cluster.l2("l2-em1", "em1")
    wait_condition(cluster, L2S, "l2-em1", "SriovEffective", "False", "SriovEffective False")
    cluster.nic_status("node-1", "em1", "Virtualized")
    wait_for(lambda: effective(cluster, "l2-em1") == "1/2", timeout=20, what="node-1 sliced: 1/2")
    cluster.nic_status("node-2", "em1", "Virtualized")
    wait_condition(cluster, L2S, "l2-em1", "SriovEffective", "True", "both sliced: SriovEffective True")

    cluster.core.patch_node("node-2", {"metadata": {"labels": {"kvsriov.io/sriov": "false"}}})
    wait_for(lambda: effective(cluster, "l2-em1") == "1/1", timeout=20, what="node-2 deselected: 1/1")
    cluster.node("node-3")
    wait_for(lambda: effective(cluster, "l2-em1") == "1/2", timeout=20, what="node-3 selected, no NIC")
    not_sliced = cluster.get(L2S, "l2-em1")["status"]["nodes"]["notSliced"]
    assert [(n["node"], n["reason"]) for n in not_sliced] == [("node-3", "NoSuchNic")]


def test_sriov_off_on_l2_turns_l3_off_and_removes_nads(em2_sliced: Cluster, operator: None) -> None:
    cluster = em2_sliced
    cluster.l2("l2-em2", "em2", vlan=100)
    cluster.l3("l3-a", "l2-em2", namespaces=["default", "kube-public"])
    wait_for(lambda: cluster.nad("kube-public", "l3-a"), timeout=20, what="the NAD in kube-public")
    assert cluster.nad("default", "l3-a")

    cluster.patch(L2S, "l2-em2", {"spec": {"sriov": {"enabled": False}}})
    wait_for(
        lambda: cluster.nad("default", "l3-a") is None and cluster.nad("kube-public", "l3-a") is None,
        timeout=20,
        what="the NADs to be removed",
    )
    wait_for(
        lambda: cluster.get(L3S, "l3-a")["status"].get("sriovEnabled") is False,
        timeout=20,
        what="the L3 network's effective SR-IOV to go off",
    )
    assert cluster.get(L3S, "l3-a")["status"]["networkAttachmentDefinitions"] == []
    assert "cloudInit" not in cluster.get(L3S, "l3-a")["status"]  # a vNIC: KubeVirt's own DHCP applies
    cond = wait_condition(cluster, L2S, "l2-em2", "SriovEffective", "False", "L2 SriovEffective False")
    assert cond["reason"] == "SriovDisabled"

    cluster.patch(L2S, "l2-em2", {"spec": {"sriov": {"enabled": True}}})
    wait_for(lambda: cluster.nad("default", "l3-a"), timeout=20, what="the NAD back with SR-IOV on")


def test_explicit_sriov_on_l3_over_sriov_off_l2_is_refused(em2_sliced: Cluster, operator: None) -> None:
    cluster = em2_sliced
    cluster.l2("l2-off", "em2", vlan=200, sriov=False)
    cluster.l3("l3-on", "l2-off")
    cluster.patch(L3S, "l3-on", {"spec": {"sriov": {"enabled": True}}})
    cond = wait_condition(cluster, L3S, "l3-on", "Ready", "False", "Ready False with the refusal")
    assert "l2-off" in cond["message"] and "spec.sriov.enabled" in cond["message"]
    assert cluster.nad("default", "l3-on") is None
    wait_for(
        lambda: any(
            e.reason == "Refused" and e.involved_object.name == "l3-on" and "l2-off" in e.message
            for e in cluster.core.list_event_for_all_namespaces().items
        ),
        timeout=20,
        what="a Warning event Refused on l3-on",
    )


def test_overlapping_ranges_refuse_the_newer_network(em2_sliced: Cluster, operator: None) -> None:
    cluster = em2_sliced
    cluster.l2("l2-em2", "em2", vlan=100)
    cluster.l3("l3-first", "l2-em2")
    wait_for(lambda: cluster.nad("default", "l3-first"), timeout=20, what="the older network's NAD")
    cluster.l3("l3-second", "l2-em2", namespaces=["kube-public"])
    cond = wait_condition(cluster, L3S, "l3-second", "Ready", "False", "the newer network refused")
    assert "spec.ipam.ranges[0]" in cond["message"] and "l3-first" in cond["message"]
    assert cluster.nad("kube-public", "l3-second") is None
    assert cluster.condition(L3S, "l3-first", "Ready")["status"] == "True"

    cluster.custom.delete_cluster_custom_object(GROUP, VERSION, L3S, "l3-first")
    wait_for(lambda: cluster.nad("kube-public", "l3-second"), timeout=20, what="the freed range accepted")


def test_changes_made_while_the_operator_is_down_converge_on_restart(
    em2_sliced: Cluster, kube_client: kubernetes.client.ApiClient
) -> None:
    cluster = em2_sliced
    with running_operator(kube_client):
        cluster.l2("l2-em2", "em2", vlan=100)
        cluster.l3("l3-a", "l2-em2")
        cluster.l3("l3-b", "l2-em2", octet=101)
        wait_for(lambda: cluster.nad("default", "l3-b"), timeout=20, what="the NADs")
    cluster.patch(L2S, "l2-em2", {"spec": {"vlan": 300}})
    cluster.custom.delete_cluster_custom_object(GROUP, VERSION, L3S, "l3-b")
    with running_operator(kube_client):
        wait_for(
            lambda: (cluster.nad_config("default", "l3-a") or {}).get("vlan") == 300,
            timeout=20,
            what="the NAD re-rendered with the new VLAN",
        )
        wait_for(lambda: cluster.gone(L3S, "l3-b"), timeout=20, what="the deleted network finalized")
        assert cluster.nad("default", "l3-b") is None


def test_l3_deletion_removes_its_nads(em2_sliced: Cluster, operator: None) -> None:
    cluster = em2_sliced
    cluster.l2("l2-em2", "em2", vlan=100)
    cluster.l3("l3-a", "l2-em2")
    wait_for(lambda: cluster.nad("default", "l3-a"), timeout=20, what="the NAD")
    assert cluster.get(L3S, "l3-a")["metadata"]["finalizers"]
    cluster.custom.delete_cluster_custom_object(GROUP, VERSION, L3S, "l3-a")
    wait_for(lambda: cluster.gone(L3S, "l3-a"), timeout=20, what="the L3 network to go")
    assert cluster.nad("default", "l3-a") is None


def test_nads_of_a_network_deleted_behind_the_finalizer_are_removed_at_start(
    em2_sliced: Cluster, kube_client: kubernetes.client.ApiClient
) -> None:
    """An L3 network deleted with its finalizer removed by hand (or before kopf added it) leaves
    its NADs behind; the next operator start removes them and keeps the live network's NAD."""
    cluster = em2_sliced
    with running_operator(kube_client):
        cluster.l2("l2-em2", "em2", vlan=100)
        cluster.l3("l3-a", "l2-em2")
        cluster.l3("l3-b", "l2-em2", octet=101)
        wait_for(lambda: cluster.nad("default", "l3-b"), timeout=20, what="the NADs")
    cluster.patch(L3S, "l3-b", {"metadata": {"finalizers": None}})
    cluster.custom.delete_cluster_custom_object(GROUP, VERSION, L3S, "l3-b")
    assert cluster.gone(L3S, "l3-b") and cluster.nad("default", "l3-b") is not None
    with running_operator(kube_client):
        wait_for(lambda: cluster.nad("default", "l3-b") is None, timeout=20, what="the orphaned NAD removed")
        assert cluster.nad("default", "l3-a") is not None


def test_hand_edited_and_deleted_nads_are_repaired(em2_sliced: Cluster, operator: None) -> None:
    cluster = em2_sliced
    cluster.l2("l2-em2", "em2", vlan=100)
    cluster.l3("l3-a", "l2-em2")
    wait_for(lambda: cluster.nad("default", "l3-a"), timeout=20, what="the NAD")
    cluster.custom.patch_namespaced_custom_object(
        "k8s.cni.cncf.io", "v1", "default", "network-attachment-definitions", "l3-a",
        {"spec": {"config": '{"type": "bridge"}'}},
    )  # fmt: skip
    wait_for(
        lambda: (cluster.nad_config("default", "l3-a") or {}).get("vlan") == 100,
        timeout=20,
        what="the hand-edited NAD to be re-rendered",
    )
    cluster.custom.delete_namespaced_custom_object(
        "k8s.cni.cncf.io", "v1", "default", "network-attachment-definitions", "l3-a"
    )
    wait_for(lambda: cluster.nad("default", "l3-a"), timeout=20, what="the deleted NAD to come back")


def test_moving_a_range_away_accepts_the_sibling_it_blocked(em2_sliced: Cluster, operator: None) -> None:
    cluster = em2_sliced
    cluster.l2("l2-em2", "em2", vlan=100)
    cluster.l3("l3-first", "l2-em2")
    wait_for(lambda: cluster.nad("default", "l3-first"), timeout=20, what="the older network's NAD")
    cluster.l3("l3-second", "l2-em2", namespaces=["kube-public"])
    wait_condition(cluster, L3S, "l3-second", "Ready", "False", "the newer network refused")
    moved = {"ranges": [{"start": "192.168.100.201", "end": "192.168.100.250"}]}
    cluster.patch(L3S, "l3-first", {"spec": {"ipam": moved}})
    wait_for(lambda: cluster.nad("kube-public", "l3-second"), timeout=20, what="the sibling accepted")
    assert cluster.condition(L3S, "l3-second", "Ready")["status"] == "True"


def test_a_nad_appears_once_its_namespace_is_created(em2_sliced: Cluster, operator: None) -> None:
    cluster = em2_sliced
    cluster.l2("l2-em2", "em2", vlan=100)
    cluster.l3("l3-a", "l2-em2", namespaces=["default", "team-x"])
    cond = wait_condition(
        cluster, L3S, "l3-a", "NetworkAttachmentDefinitionsRendered", "False", "team-x missing"
    )
    assert cond["reason"] == "NamespaceMissing" and "team-x" in cond["message"]
    assert cluster.nad("default", "l3-a")
    cluster.core.create_namespace({"metadata": {"name": "team-x"}})
    wait_for(lambda: cluster.nad("team-x", "l3-a"), timeout=20, what="the NAD in the new namespace")
    wait_condition(cluster, L3S, "l3-a", "NetworkAttachmentDefinitionsRendered", "True", "all rendered")


def events_of(cluster: Cluster, name: str) -> list[tuple[str, str, str]]:
    return [
        (e.type, e.reason, e.message)
        for e in cluster.core.list_event_for_all_namespaces().items
        if e.involved_object.name == name
    ]


def test_changes_are_recorded_as_events(em2_sliced: Cluster, operator: None) -> None:
    cluster = em2_sliced
    cluster.l2("l2-em2", "em2", vlan=100)
    wait_for(
        lambda: any(r == "SriovEffective" for _, r, _ in events_of(cluster, "l2-em2")),
        timeout=20,
        what="an SriovEffective event on the L2 network",
    )
    cluster.l3("l3-a", "l2-em2")
    wait_for(
        lambda: (
            (
                "Normal",
                "NetworkAttachmentDefinitionCreated",
                "created NetworkAttachmentDefinition default/l3-a, default/l3-a-vnic",
            )
            in events_of(cluster, "l3-a")
        ),
        timeout=20,
        what="a NAD-created event",
    )
    cluster.patch(L2S, "l2-em2", {"spec": {"sriov": {"enabled": False}}})
    wait_for(
        lambda: (
            {"SriovDisabled", "NetworkAttachmentDefinitionDeleted"}
            <= {r for _, r, _ in events_of(cluster, "l3-a")}
        ),
        timeout=20,
        what="SR-IOV-off and NAD-removed events on the L3 network",
    )
    wait_for(
        lambda: ("Warning", "SriovNotEffective") in {(t, r) for t, r, _ in events_of(cluster, "l2-em2")},
        timeout=20,
        what="a SriovNotEffective warning on the L2 network",
    )


def nads_of(cluster: Cluster, l3: str) -> set[str]:
    found = cluster.custom.list_cluster_custom_object(
        "k8s.cni.cncf.io", "v1", "network-attachment-definitions", label_selector=f"{LABEL_L3_NETWORK}={l3}"
    )
    return {f"{i['metadata']['namespace']}/{i['metadata']['name']}" for i in found["items"]}


def test_restart_in_the_middle_of_reconciling_converges_with_nothing_orphaned(
    em2_sliced: Cluster, kube_client: kubernetes.client.ApiClient, kubeconfig: Path
) -> None:
    """`kvsriov operator` killed (SIGKILL) right after the first of 40 NADs appears, the spec
    changed while it is down, then the operator restarted: exactly the desired NADs remain.

    A subprocess, because an embedded operator finishes its running (sync) handler before it stops.
    """
    cluster = em2_sliced
    namespaces = [f"team-{i:02d}" for i in range(48)]
    for namespace in namespaces:
        cluster.core.create_namespace({"metadata": {"name": namespace}})
    cluster.l2("l2-em2", "em2", vlan=100)
    cluster.l3("l3-gone", "l2-em2", namespaces=namespaces[:40], octet=101)
    cluster.l3("l3-a", "l2-em2", namespaces=namespaces[:40])
    command = [sys.executable, "-m", "kvsriov.cli", "operator", "--", "--kubeconfig", str(kubeconfig)]
    process = subprocess.Popen(
        [*command, "--standalone"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(lambda: nads_of(cluster, "l3-a"), timeout=30, what="the first NAD of l3-a")
    finally:
        process.kill()
        process.wait(10)
    partial = nads_of(cluster, "l3-a")
    cluster.patch(L3S, "l3-a", {"spec": {"namespaces": namespaces[20:]}})  # while the operator is down
    cluster.custom.delete_cluster_custom_object(GROUP, VERSION, L3S, "l3-gone")
    desired = {f"{namespace}/l3-a{suffix}" for namespace in namespaces[20:] for suffix in ("", "-vnic")}
    with running_operator(kube_client):
        wait_for(lambda: nads_of(cluster, "l3-a") == desired, timeout=20, what="exactly the desired NADs")
        wait_for(lambda: cluster.gone(L3S, "l3-gone"), timeout=20, what="the deleted network finalized")
        wait_for(lambda: not nads_of(cluster, "l3-gone"), timeout=20, what="no NAD of the deleted network")
        wait_condition(cluster, L3S, "l3-a", "Ready", "True", "l3-a Ready")
        assert sorted(cluster.get(L3S, "l3-a")["status"]["networkAttachmentDefinitions"]) == sorted(desired)
    assert nads_of(cluster, "l3-gone") == set()
    assert nads_of(cluster, "l3-a") == desired
    print(f"killed with {len(partial)} of 40 NADs of l3-a written")


@pytest.mark.both_servers
def test_a_network_with_a_100_character_name_gets_its_nads_and_deletes_cleanly(
    em2_sliced: Cluster, operator: None
) -> None:
    """A valid name longer than a label value may be (63): the NADs' label holds a hashed value,
    which the real API server accepts in the object and in the operator's label selector."""
    cluster = em2_sliced
    name = "l3-" + "a" * 97
    cluster.l2("l2-em2", "em2", vlan=100)
    cluster.l3(name, "l2-em2")
    wait_condition(cluster, L3S, name, "Ready", "True", "the long-named L3 network Ready")
    status = cluster.get(L3S, name)["status"]
    assert status["networkAttachmentDefinitions"] == [f"default/{name}", f"default/{name}-vnic"]
    nad = cluster.nad("default", name)
    assert nad is not None and json.loads(nad["spec"]["config"])["type"] == "sriov"
    assert len(nad["metadata"]["labels"][LABEL_L3_NETWORK]) <= 63
    cluster.custom.delete_cluster_custom_object(GROUP, VERSION, L3S, name)
    wait_for(lambda: cluster.gone(L3S, name), timeout=20, what="the long-named L3 network to go")
    assert cluster.nad("default", name) is None and cluster.nad("default", f"{name}-vnic") is None
