"""VF requests on launcher pods (issue: VMs on KubeVirt 1.7-1.9), on the emulated and the real API server.

The operator renders the NAD of an SR-IOV L3 network; a virt-launcher pod shaped as
virt-controller makes it (kvsriov/sandbox/kubevirt.py) is created on that network; the API
server calls the operator's mutating webhook, which adds one request and limit of the NAD's
resourceName per SR-IOV network on the compute container, unless they are there already.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException
from operator_helpers import Cluster, running_operator
from vm_helpers import (
    NS,
    RESOURCE,
    kubevirt_19,
    mutation_registered,
    sriov_cluster,
    webhook_knobs,
)

from kvsriov.api.kinds import L3_PLURAL
from kvsriov.kubevirt import launcher
from kvsriov.kubevirt.vfrequests import GATE
from kvsriov.sandbox import kubevirt
from kvsriov.sandbox.kubevirt import LauncherNic
from kvsriov.sandbox.wait import wait_for
from kvsriov_operator.clients import Clients

pytestmark = pytest.mark.both_servers


@pytest.fixture
def cluster(kube_client: kubernetes.client.ApiClient) -> Cluster:
    return sriov_cluster(kube_client)


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
