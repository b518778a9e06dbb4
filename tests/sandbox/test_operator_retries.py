"""A network's worker after a failed reconcile: the user is told, and it retries soon, not after
kopf's fixed 60 s daemon backoff (issue 15 item 6).

The fault is one a cluster really has: a validating webhook on NADs whose service is down
(failurePolicy Fail), so every NAD write is refused with a 500 until it is removed.
"""

from __future__ import annotations

from collections.abc import Iterator

import kubernetes
import pytest
from operator_helpers import Cluster, running_operator

from kvsriov.api.conditions import EventReason
from kvsriov.api.kinds import L3_PLURAL
from kvsriov.sandbox.wait import wait_for
from kvsriov_operator.workers import RETRY_CAP_S

pytestmark = pytest.mark.both_servers
BROKEN_WEBHOOK = "nads-guard.example.com"


@pytest.fixture
def cluster(kube_client: kubernetes.client.ApiClient) -> Cluster:
    return Cluster(kube_client)


@pytest.fixture
def nad_writes_refused(
    kube_client: kubernetes.client.ApiClient,
) -> Iterator[kubernetes.client.AdmissionregistrationV1Api]:
    """A ValidatingWebhookConfiguration on NADs whose endpoint answers nothing."""
    admission = kubernetes.client.AdmissionregistrationV1Api(kube_client)
    body = {
        "metadata": {"name": BROKEN_WEBHOOK},
        "webhooks": [
            {
                "name": BROKEN_WEBHOOK,
                "clientConfig": {"url": "https://127.0.0.1:9/validate"},  # nothing listens there
                "rules": [
                    {
                        "apiGroups": ["k8s.cni.cncf.io"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["network-attachment-definitions"],
                    }
                ],
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 2,
            }
        ],
    }
    admission.create_validating_webhook_configuration(body)
    try:
        yield admission
    finally:
        try:
            admission.delete_validating_webhook_configuration(BROKEN_WEBHOOK)
        except kubernetes.client.ApiException as exc:
            if exc.status != 404:
                raise


def test_a_refused_nad_write_is_reported_and_retried_soon_after_the_fault_clears(
    kube_client: kubernetes.client.ApiClient,
    cluster: Cluster,
    nad_writes_refused: kubernetes.client.AdmissionregistrationV1Api,
) -> None:
    cluster.node("node-1")
    cluster.nic("node-1", "em2", "Virtualized")
    cluster.l2("l2-em2", "em2", vlan=100)
    with running_operator(kube_client):
        cluster.l3("l3-vlan100", "l2-em2")
        failures = wait_for(
            lambda: [
                e.message
                for e in cluster.core.list_event_for_all_namespaces().items
                if e.involved_object.name == "l3-vlan100" and e.reason == EventReason.RECONCILE_FAILED
            ],
            timeout=30,
            what="a ReconcileFailed Event on the L3 network",
        )
        assert failures[0].startswith("could not reconcile SriovL3Network l3-vlan100: 500")
        assert "retrying in" in failures[0]
        assert cluster.nad("default", "l3-vlan100") is None

        nad_writes_refused.delete_validating_webhook_configuration(BROKEN_WEBHOOK)
        # Nothing pokes the worker when a webhook configuration goes: only its retry brings the
        # NAD, within the capped delay (kopf's daemon backoff alone would take 60 s).
        wait_for(
            lambda: cluster.condition(L3_PLURAL, "l3-vlan100", "Ready").get("status") == "True",
            timeout=RETRY_CAP_S + 15,
            what="the L3 network Ready once NAD writes pass again",
        )
        assert cluster.nad("default", "l3-vlan100") is not None
