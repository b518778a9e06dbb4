"""`kvsriov doctor --cluster`, run as a user runs it, on the emulated and the real API server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kubernetes
import pytest
from operator_helpers import Cluster, running_operator
from vm_helpers import kubevirt_19, mutation_registered, sriov_cluster, webhook_knobs

from kvsriov.kubevirt.vfrequests import GATE
from kvsriov.sandbox.wait import wait_for

pytestmark = pytest.mark.both_servers


@pytest.fixture
def cluster(kube_client: kubernetes.client.ApiClient) -> Cluster:
    return sriov_cluster(kube_client)


def doctor(kubeconfig: Path) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "kvsriov.cli", "doctor", "--cluster", "--kubeconfig", str(kubeconfig)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout + done.stderr


def test_on_kubevirt_19_without_the_operator_nobody_adds_vf_requests(
    kubeconfig: Path, cluster: Cluster
) -> None:
    kubevirt_19(cluster)
    code, out = doctor(kubeconfig)
    assert code == 1, out
    assert f"[FAIL] VF requests: Nobody: KubeVirt v1.9.0, feature gate {GATE} on" in out
    assert "fix: start the kvsriov operator with its webhooks" in out
    assert "[ok  ] Multus: network-attachment-definitions.k8s.cni.cncf.io served" in out
    assert "[ok  ] KubeVirt: virtualmachines.kubevirt.io served" in out


def test_with_the_operators_webhook_the_doctor_says_kvsriov_adds_them(
    kubeconfig: Path, kube_client: kubernetes.client.ApiClient, cluster: Cluster
) -> None:
    kubevirt_19(cluster)
    with running_operator(kube_client, webhook_knobs()):
        wait_for(lambda: mutation_registered(kube_client), timeout=20, what="the launcher-pod webhook")
        _, out = doctor(kubeconfig)
    assert "[ok  ] VF requests: Kvsriov: KubeVirt v1.9.0" in out, out
    assert "VF requests" not in out.split("verdict:")[1]


def test_kubevirt_18_adds_them_itself(kubeconfig: Path, cluster: Cluster) -> None:
    kubevirt_19(cluster, version="v1.8.2")
    _, out = doctor(kubeconfig)
    assert f"[ok  ] VF requests: KubeVirt: KubeVirt v1.8.2 with feature gate {GATE} off" in out
