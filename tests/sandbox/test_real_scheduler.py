"""The real kube-scheduler (hack/real-apiserver/build.sh, the pinned k8s.io/kubernetes) places Pods
by the extended resource our node agent advertises, ``kvsriov.io/<pf>``, against the real
kube-apiserver: a Pod asking for more than any Node has stays Pending with PodScheduled=False,
reason Unschedulable, "Insufficient kvsriov.io/em2"; one that fits is bound (spec.nodeName).

No controller-manager or kubelet runs: the test creates the namespace's ``default``
ServiceAccount (the ServiceAccount admission plugin refuses Pods without it) and the Nodes with
their status as a kubelet would report it. The scheduler needs of a Node that it is not
``spec.unschedulable``, has no taint the Pod does not tolerate and has room in
status.allocatable, pods included. kube-apiserver's TaintNodesByCondition admission taints
each new Node ``node.kubernetes.io/not-ready:NoSchedule`` and only the node-lifecycle
controller (in the controller-manager, not run here) lifts it: the test lifts it itself. The
Ready condition is set as a kubelet would, though the scheduler does not read it (an untainted
Node with no conditions gets Pods too). Skipped, with the reason, where the binaries cannot be
built.
"""

from __future__ import annotations

import time
from typing import Any

import kubernetes
import pytest

from kvsriov.sandbox.real_apiserver import RealScheduler
from kvsriov.sandbox.wait import wait_for

pytestmark = pytest.mark.parametrize("kube_backend", ["real"], indirect=True)

RESOURCE = "kvsriov.io/em2"
NAMESPACE = "default"
NODES = ("worker-a", "worker-b")
SCHEDULE_TIMEOUT_S = 30.0


@pytest.fixture
def core(
    real_scheduler: RealScheduler, kube_client: kubernetes.client.ApiClient
) -> kubernetes.client.CoreV1Api:
    """CoreV1Api on the real server, with the scheduler running, two Nodes of 2 ``kvsriov.io/em2``
    each and the ``default`` ServiceAccount."""
    api = kubernetes.client.CoreV1Api(kube_client)
    try:
        api.create_namespaced_service_account(NAMESPACE, {"metadata": {"name": "default"}})
    except kubernetes.client.ApiException as exc:
        if exc.status != 409:  # left by an earlier test: reset() keeps ServiceAccounts
            raise
    for name in NODES:
        create_node(api, name, {RESOURCE: "2"})
    return api


def create_node(api: kubernetes.client.CoreV1Api, name: str, extended: dict[str, str]) -> None:
    """A Node as a kubelet registers it: capacity = allocatable, Ready, no taints."""
    resources = {"cpu": "4", "memory": "8Gi", "pods": "110", **extended}
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    status = {
        "capacity": resources,
        "allocatable": resources,
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "kubelet is posting ready status",
                "lastHeartbeatTime": now,
                "lastTransitionTime": now,
            }
        ],
    }
    node = api.create_node({"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}})
    # kube-apiserver's TaintNodesByCondition admission taints every new Node
    # node.kubernetes.io/not-ready:NoSchedule; the node-lifecycle controller lifts it once
    # the Node is Ready. No controller-manager runs here: lift it as that controller would.
    assert [t.key for t in node.spec.taints or []] == ["node.kubernetes.io/not-ready"], node.spec.taints
    api.patch_node_status(name, {"status": status})
    api.patch_node(name, {"spec": {"taints": None}})


def create_pod(api: kubernetes.client.CoreV1Api, name: str, count: int) -> None:
    amount = {RESOURCE: str(count)}
    api.create_namespaced_pod(
        NAMESPACE,
        {
            "metadata": {"name": name},
            "spec": {
                "automountServiceAccountToken": False,
                "containers": [
                    {"name": "app", "image": "busybox", "resources": {"requests": amount, "limits": amount}}
                ],
            },
        },
    )


def pod_scheduled(api: kubernetes.client.CoreV1Api, name: str) -> Any:
    """The Pod's PodScheduled condition, once the scheduler has set it."""
    pod = api.read_namespaced_pod(name, NAMESPACE)
    conditions = pod.status.conditions or []
    return next((c for c in conditions if c.type == "PodScheduled"), None)


def unschedulable(api: kubernetes.client.CoreV1Api, name: str) -> Any:
    """The scheduler's verdict once it is about the resource. Its first try may still see a Node
    tainted not-ready (the taint was lifted a moment before the pod came); it tries again when
    the Node update reaches its cache, and then names the resource."""

    def about_the_resource() -> Any:
        condition = pod_scheduled(api, name)
        return condition if condition is not None and "Insufficient" in (condition.message or "") else None

    condition = wait_for(about_the_resource, timeout=SCHEDULE_TIMEOUT_S, what=f"PodScheduled=False on {name}")
    assert (condition.status, condition.reason) == ("False", "Unschedulable"), condition
    assert api.read_namespaced_pod(name, NAMESPACE).spec.node_name is None
    return condition


def bound_node(api: kubernetes.client.CoreV1Api, name: str) -> str:
    return str(
        wait_for(
            lambda: api.read_namespaced_pod(name, NAMESPACE).spec.node_name,
            timeout=SCHEDULE_TIMEOUT_S,
            what=f"{name} bound to a Node",
        )
    )


def test_a_pod_asking_more_than_any_node_has_is_unschedulable(core: kubernetes.client.CoreV1Api) -> None:
    create_pod(core, "wants-3", 3)
    condition = unschedulable(core, "wants-3")
    assert f"Insufficient {RESOURCE}" in condition.message
    assert condition.message.startswith("0/2 nodes are available: 2 Insufficient kvsriov.io/em2."), (
        condition.message
    )
    assert core.read_namespaced_pod("wants-3", NAMESPACE).status.phase == "Pending"


def test_a_pod_that_fits_is_bound_to_a_node(core: kubernetes.client.CoreV1Api) -> None:
    create_pod(core, "wants-1", 1)
    assert bound_node(core, "wants-1") in NODES
    condition = pod_scheduled(core, "wants-1")
    assert condition is None or condition.status == "True"


def test_bound_pods_use_up_the_extended_resource(core: kubernetes.client.CoreV1Api) -> None:
    """Two Pods of 2 fill both Nodes (one each); a third Pod of 1 then finds no room."""
    create_pod(core, "first-2", 2)
    create_pod(core, "second-2", 2)
    assert {bound_node(core, "first-2"), bound_node(core, "second-2")} == set(NODES)
    create_pod(core, "third-1", 1)
    assert f"Insufficient {RESOURCE}" in unschedulable(core, "third-1").message
