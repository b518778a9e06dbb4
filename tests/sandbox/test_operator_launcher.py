"""VF requests on launcher pods (issue: VMs on KubeVirt 1.7-1.9), on the emulated and the real API server.

The operator renders the NAD of an SR-IOV L3 network; a virt-launcher pod shaped as
virt-controller makes it (kvsriov/sandbox/kubevirt.py) is created on that network; the API
server calls the operator's mutating webhook, which adds one request and limit of the NAD's
resourceName per SR-IOV network on the compute container, unless they are there already.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException
from operator_helpers import Cluster, running_operator

from kvsriov.api.kinds import L3_PLURAL
from kvsriov.kubevirt import launcher
from kvsriov.kubevirt.vfrequests import GATE, KUBEVIRT_GROUP, KUBEVIRT_PLURAL, KUBEVIRT_VERSION
from kvsriov.sandbox import kubevirt
from kvsriov.sandbox.kubevirt import LauncherNic
from kvsriov.sandbox.wait import wait_for
from kvsriov_operator.clients import Clients
from kvsriov_operator.settings import Knobs, WebhookOptions

pytestmark = pytest.mark.both_servers
CONFIGURATION = "validate.kvsriov.io"
RESOURCE = "kvsriov.io/em2"
NS = "default"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def webhook_knobs(vf_requests: Any = "kvsriov") -> Knobs:
    webhook = WebhookOptions(mode="self-signed", addr="127.0.0.1", port=free_port(), host="127.0.0.1")
    return Knobs(webhook=webhook, vf_requests=vf_requests)


@pytest.fixture
def cluster(kube_client: kubernetes.client.ApiClient) -> Cluster:
    """An SR-IOV L3 network rendered into `default`, and what a real cluster would have there: the
    default service account (the real server, without its controller manager, has none)."""
    cluster = Cluster(kube_client)
    try:
        cluster.core.create_namespaced_service_account(NS, {"metadata": {"name": "default"}})
    except ApiException as exc:
        if exc.status != 409:
            raise
    cluster.l2("l2-em2", "em2", vlan=100)
    cluster.l3("l3-vlan100", "l2-em2", namespaces=[NS])
    return cluster


def kubevirt_19(cluster: Cluster, **kwargs: Any) -> None:
    """KubeVirt's CR, deployed (its status as virt-operator reports it)."""
    try:
        cluster.core.create_namespace({"metadata": {"name": kubevirt.KUBEVIRT_NAMESPACE}})
    except ApiException as exc:
        if exc.status != 409:
            raise
    body = kubevirt.kubevirt_cr(**kwargs)
    args = (KUBEVIRT_GROUP, KUBEVIRT_VERSION, kubevirt.KUBEVIRT_NAMESPACE, KUBEVIRT_PLURAL)
    created = cluster.custom.create_namespaced_custom_object(*args, body)
    cluster.custom.patch_namespaced_custom_object_status(
        *args, created["metadata"]["name"], {"status": body["status"]}
    )


def mutation_registered(kube_client: kubernetes.client.ApiClient) -> bool:
    admission = kubernetes.client.AdmissionregistrationV1Api(kube_client)
    try:
        config = admission.read_mutating_webhook_configuration(CONFIGURATION)
    except ApiException:
        return False
    return any(w.name.startswith("vf-requests.") and w.client_config.ca_bundle for w in config.webhooks or [])


@pytest.fixture
def operator(kube_client: kubernetes.client.ApiClient, cluster: Cluster) -> Iterator[Clients]:
    with running_operator(kube_client, webhook_knobs()) as clients:
        wait_for(lambda: mutation_registered(kube_client), timeout=20, what="the launcher-pod webhook")
        wait_for(lambda: cluster.nad(NS, "l3-vlan100") is not None, timeout=20, what="the NAD")
        yield clients


def create_launcher(cluster: Cluster, nics: list[LauncherNic], **kwargs: Any) -> dict[str, Any]:
    pod = kubevirt.launcher_pod(kubevirt.vmi(NS, "vm-a"), nics, {f"{NS}/l3-vlan100": RESOURCE}, **kwargs)
    created = cluster.core.create_namespaced_pod(NS, pod)
    return cluster.core.api_client.sanitize_for_serialization(created)  # type: ignore[no-any-return]


def compute_resources(pod: dict[str, Any]) -> dict[str, Any]:
    compute = launcher.compute_container(pod)
    assert compute is not None
    return dict(compute.get("resources") or {})


TWO_VFS_AND_A_VNIC = [
    LauncherNic("vf1", "l3-vlan100", mac="02:00:00:00:00:01"),
    LauncherNic("vf2", f"{NS}/l3-vlan100"),
    LauncherNic("pod2", "kube-system/plain", sriov=False),
]


def vf_condition(cluster: Cluster) -> dict[str, Any]:
    return cluster.condition(L3_PLURAL, "l3-vlan100", "VfRequests")


def test_on_kubevirt_19_the_webhook_asks_for_one_vf_per_sriov_network(
    cluster: Cluster, operator: Clients
) -> None:
    kubevirt_19(cluster)
    wait_for(
        lambda: (
            "v1.9.0, feature gate ExternalNetResourceInjection on" in vf_condition(cluster).get("message", "")
        ),
        timeout=20,
        what="VfRequests to name KubeVirt v1.9.0",
    )
    assert (vf_condition(cluster)["status"], vf_condition(cluster)["reason"]) == ("True", "Kvsriov")

    pod = create_launcher(cluster, TWO_VFS_AND_A_VNIC)
    resources = compute_resources(pod)
    assert resources["requests"][RESOURCE] == "2" and resources["limits"][RESOURCE] == "2"
    assert resources["requests"]["memory"] == "1Gi"  # what KubeVirt asked stays
    assert "resources" not in pod["spec"]["containers"][1] or not pod["spec"]["containers"][1]["resources"]


def test_requests_kubevirt_added_are_not_added_twice(cluster: Cluster, operator: Clients) -> None:
    kubevirt_19(cluster, disabled_feature_gates=[GATE])
    wait_for(
        lambda: vf_condition(cluster).get("reason") == "KubeVirt", timeout=20, what="VfRequests=KubeVirt"
    )
    pod = create_launcher(cluster, TWO_VFS_AND_A_VNIC, kubevirt_adds_requests=True)
    assert compute_resources(pod)["requests"][RESOURCE] == "2"


def test_other_pods_are_not_touched(cluster: Cluster, operator: Clients) -> None:
    pod = kubevirt.launcher_pod(kubevirt.vmi(NS, "vm-b"), TWO_VFS_AND_A_VNIC)
    del pod["metadata"]["labels"][launcher.LABEL_APP]  # not a launcher pod: the objectSelector skips it
    created = cluster.core.create_namespaced_pod(NS, pod)
    assert RESOURCE not in (created.spec.containers[0].resources.requests or {})


def test_left_to_network_resources_injector_no_webhook_of_ours_is_registered(
    kube_client: kubernetes.client.ApiClient, cluster: Cluster
) -> None:
    with running_operator(kube_client, webhook_knobs("network-resources-injector")):
        kubevirt_19(cluster)
        wait_for(
            lambda: vf_condition(cluster).get("reason") == "NetworkResourcesInjector",
            timeout=20,
            what="VfRequests=NetworkResourcesInjector",
        )
        assert not mutation_registered(kube_client)
        pod = create_launcher(cluster, TWO_VFS_AND_A_VNIC)
        assert RESOURCE not in compute_resources(pod).get("requests", {})


def test_while_the_operator_is_down_a_launcher_pod_waits_and_others_do_not(
    kube_client: kubernetes.client.ApiClient, cluster: Cluster
) -> None:
    """Fail closed for launcher pods only: no VM starts without its VF, nothing else is blocked."""
    with running_operator(kube_client, webhook_knobs()):
        wait_for(lambda: mutation_registered(kube_client), timeout=20, what="the launcher-pod webhook")
    assert mutation_registered(kube_client)  # persistent: still registered after the operator stopped
    with pytest.raises(ApiException) as refused:
        create_launcher(cluster, TWO_VFS_AND_A_VNIC)
    assert refused.value.status == 500 and "vf-requests." in refused.value.body
    plain = {"metadata": {"name": "plain"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    cluster.core.create_namespaced_pod(
        NS, plain | {"spec": plain["spec"] | {"automountServiceAccountToken": False}}
    )
