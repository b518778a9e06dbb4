"""Shared by the VM tests: an SR-IOV L3 network rendered into `default`, KubeVirt's CR, the
operator's webhook knobs, whether its launcher-pod webhook is registered, and kubectl."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException
from operator_helpers import Cluster

from kvsriov.kubevirt.vfrequests import KUBEVIRT_GROUP, KUBEVIRT_PLURAL, KUBEVIRT_VERSION
from kvsriov.sandbox import kubevirt
from kvsriov_operator.settings import Knobs, WebhookOptions

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


def sriov_cluster(kube_client: kubernetes.client.ApiClient) -> Cluster:
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


def validating_webhooks(kube_client: kubernetes.client.ApiClient) -> list[Any]:
    """The webhooks kopf has registered in our validating configuration, with their CA ([] until)."""
    admission = kubernetes.client.AdmissionregistrationV1Api(kube_client)
    try:
        config = admission.read_validating_webhook_configuration(CONFIGURATION)
    except ApiException:
        return []
    return [w for w in config.webhooks or [] if w.client_config.ca_bundle]


def mutation_registered(kube_client: kubernetes.client.ApiClient) -> bool:
    admission = kubernetes.client.AdmissionregistrationV1Api(kube_client)
    try:
        config = admission.read_mutating_webhook_configuration(CONFIGURATION)
    except ApiException:
        return False
    return any(w.name.startswith("vf-requests.") and w.client_config.ca_bundle for w in config.webhooks or [])


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # kubectl-kvsriov
    return subprocess.run(
        ["kubectl", *args], input=stdin, env=env, capture_output=True, text=True, timeout=60
    )
