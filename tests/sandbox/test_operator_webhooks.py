"""The operator's admission webhooks, served by kopf over HTTPS and called by the emulated API server.

The refusals chosen here are ones no CRD schema can express (they need other
objects), so a 422 proves the webhook path, not the schema's CEL rules.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException
from operator_helpers import Cluster, running_operator
from vm_helpers import validating_webhooks

from kvsriov.api.constants import GROUP, VERSION
from kvsriov.api.kinds import L3_PLURAL, NIC_PLURAL
from kvsriov.api.naming import nic_object_name
from kvsriov.sandbox.wait import wait_for
from kvsriov_operator.settings import Knobs, WebhookOptions

L3S, NICS = L3_PLURAL, NIC_PLURAL
CONFIGURATION = "validate.kvsriov.io"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def cluster(kube_client: kubernetes.client.ApiClient) -> Cluster:
    return Cluster(kube_client)


@pytest.fixture
def operator(kube_client: kubernetes.client.ApiClient) -> Iterator[None]:
    """The operator with its webhook server (self-signed, as in the sandbox), registered by kopf."""
    webhook = WebhookOptions(mode="self-signed", addr="127.0.0.1", port=free_port(), host="127.0.0.1")

    def registered() -> bool:
        return len(validating_webhooks(kube_client)) == 7

    with running_operator(kube_client, Knobs(webhook=webhook)):
        wait_for(registered, timeout=20, what="kopf to register the validating webhooks")
        yield


def refusal(call: Any) -> tuple[int, str]:
    """Run a write expected to be refused: (HTTP status, the Status message)."""
    with pytest.raises(ApiException) as caught:
        call()
    return caught.value.status, json.loads(caught.value.body)["message"]


def l3_body(name: str, l2: str, octet: int = 100, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SriovL3Network",
        "metadata": {"name": name},
        "spec": {
            "l2Network": l2,
            "ipam": {
                "cidr": f"192.168.{octet}.0/24",
                "ranges": [{"start": f"192.168.{octet}.10", "end": f"192.168.{octet}.200"}],
            },
        }
        | spec,
    }


def create_l3(cluster: Cluster, body: dict[str, Any]) -> None:
    cluster.custom.create_cluster_custom_object(GROUP, VERSION, L3S, body)


def test_l3_on_a_missing_l2_network_is_refused(cluster: Cluster, operator: None) -> None:
    status, message = refusal(lambda: create_l3(cluster, l3_body("l3-orphan", "l2-nowhere")))
    assert status == 422
    assert message == (
        f'admission webhook "l3.{CONFIGURATION}" denied the request: '
        "spec.l2Network: SriovL2Network l2-nowhere does not exist; create it first or name an existing one"
    )
    assert cluster.gone(L3S, "l3-orphan")


def test_sriov_on_over_an_l2_network_without_it_is_refused(cluster: Cluster, operator: None) -> None:
    cluster.l2("l2-off", "em2", vlan=200, sriov=False)
    status, message = refusal(lambda: create_l3(cluster, l3_body("l3-on", "l2-off", sriov={"enabled": True})))
    assert status == 422
    assert "spec.sriov.enabled: SR-IOV is off on SriovL2Network l2-off" in message
    create_l3(cluster, l3_body("l3-inherits", "l2-off"))  # unset: inherits "off", accepted


@pytest.mark.parametrize(
    ("ipam", "words"),
    [
        (
            {"ranges": [{"start": "192.168.101.10", "end": "192.168.101.20"}]},
            "spec.ipam.ranges[0]: 192.168.101.10-192.168.101.20 is outside cidr 192.168.100.0/24",
        ),
        (
            {"gateway": "192.168.100.255"},
            "spec.ipam.gateway: 192.168.100.255 is the broadcast address of 192.168.100.0/24",
        ),
    ],
    ids=["range-outside-cidr", "gateway-on-broadcast"],
)
def test_ipam_the_schema_cannot_check_is_refused_by_the_webhook(
    cluster: Cluster, operator: None, ipam: dict[str, Any], words: str
) -> None:
    """What the CRD's CEL cannot say within the API server's cost budget, the webhook says, with
    the range's index and addresses."""
    cluster.l2("l2-em2", "em2", vlan=100)
    body = l3_body("l3-bad-ipam", "l2-em2")
    body["spec"]["ipam"] |= ipam
    status, message = refusal(lambda: create_l3(cluster, body))
    assert status == 422 and words in message, message
    assert cluster.gone(L3S, "l3-bad-ipam")


def test_overlapping_ranges_are_refused_on_create_and_on_update(cluster: Cluster, operator: None) -> None:
    cluster.l2("l2-em2", "em2", vlan=100)
    create_l3(cluster, l3_body("l3-first", "l2-em2"))
    status, message = refusal(lambda: create_l3(cluster, l3_body("l3-second", "l2-em2")))
    assert status == 422
    assert "spec.ipam.ranges[0]: 192.168.100.10-192.168.100.200 overlaps" in message
    assert "SriovL3Network l3-first on the same L2 network l2-em2" in message

    create_l3(cluster, l3_body("l3-other", "l2-em2", octet=101))
    moved = {
        "spec": {
            "ipam": {
                "cidr": "192.168.100.0/24",
                "ranges": [{"start": "192.168.100.5", "end": "192.168.100.20"}],
            }
        }
    }
    status, message = refusal(lambda: cluster.patch(L3S, "l3-other", moved))
    assert status == 422 and "spec.ipam.ranges[0]" in message and "l3-first" in message
    cluster.patch(L3S, "l3-other", {"metadata": {"labels": {"team": "a"}}})  # no spec change: passes


def test_num_vfs_beyond_total_vfs_is_refused_naming_the_limit(cluster: Cluster, operator: None) -> None:
    cluster.node("node-1")
    name = cluster.nic("node-1", "em2", "Virtualized", num_vfs=8)  # status.totalVfs: 63
    status, message = refusal(lambda: cluster.patch(NICS, name, {"spec": {"numVfs": 70}}))
    assert status == 422
    assert message.endswith(
        "spec.numVfs: 70 exceeds the 63 VFs this NIC supports (status.totalVfs); use 1..63 or 0 to restore"
    )
    cluster.patch(NICS, name, {"spec": {"numVfs": 63}})
    assert cluster.get(NICS, name)["spec"]["numVfs"] == 63


def test_a_second_sliced_pf_of_a_bond_is_refused_naming_the_sliced_one(
    cluster: Cluster, operator: None
) -> None:
    cluster.node("node-1")
    cluster.nic("node-1", "em1", "Virtualized", num_vfs=8)
    cluster.nic("node-1", "em2", "Virtualizable", num_vfs=0)
    for interface in ("em1", "em2"):  # the node agent reports the bond
        cluster.custom.patch_cluster_custom_object_status(
            GROUP, VERSION, NICS, nic_object_name("node-1", interface),
            {"status": {"bond": {"master": "bond0", "members": ["em1", "em2"]}}},
        )  # fmt: skip
    em2 = nic_object_name("node-1", "em2")
    status, message = refusal(lambda: cluster.patch(NICS, em2, {"spec": {"numVfs": 4}}))
    assert status == 422
    assert "spec.numVfs: bond0 bonds several PFs and only one of them may be sliced: em1" in message
    assert nic_object_name("node-1", "em1") in message

    cluster.patch(NICS, nic_object_name("node-1", "em1"), {"spec": {"numVfs": 0}})  # restore em1 first
    status, message = refusal(lambda: cluster.patch(NICS, em2, {"spec": {"numVfs": 4}}))
    assert status == 422 and "already has 8 VFs" in message  # until the agent has removed them
    cluster.nic_status("node-1", "em1", "Virtualizable", num_vfs=0)
    cluster.patch(NICS, em2, {"spec": {"numVfs": 4}})
    assert cluster.get(NICS, em2)["spec"]["numVfs"] == 4


def test_a_valid_network_is_accepted_and_rendered(cluster: Cluster, operator: None) -> None:
    cluster.node("node-1")
    cluster.nic("node-1", "em2", "Virtualized")
    cluster.l2("l2-em2", "em2", vlan=100)
    create_l3(cluster, l3_body("l3-ok", "l2-em2", namespaces=["default"]))
    wait_for(lambda: cluster.nad("default", "l3-ok"), timeout=20, what="the accepted network's NAD")


def test_webhooks_on_kubevirt_objects_never_block_the_cluster_when_the_operator_is_down(
    kube_client: kubernetes.client.ApiClient, operator: None
) -> None:
    """Ours fail closed (a refusal missed would store a broken network); KubeVirt's objects fail
    open: an outage must not refuse every migration nor every VM edit in the cluster."""
    config = kubernetes.client.AdmissionregistrationV1Api(kube_client).read_validating_webhook_configuration(
        CONFIGURATION
    )
    policies = {w.name.split(".")[0]: w.failure_policy for w in config.webhooks}
    assert policies == {
        "host": "Fail",
        "l2": "Fail",
        "l3": "Fail",
        "nic": "Fail",
        "vmim": "Ignore",
        "vm-vfs": "Ignore",
        "vm-nic-type": "Ignore",
    }
