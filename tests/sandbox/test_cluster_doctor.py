"""`kvsriov doctor --cluster`, run as a user runs it, on the emulated and the real API server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kubernetes
import pytest
from operator_helpers import Cluster, running_operator
from vm_helpers import NS, kubevirt_19, mutation_registered, sriov_cluster, webhook_knobs

from kvsriov.api.constants import GROUP, VERSION
from kvsriov.api.kinds import L3_PLURAL, NIC_PLURAL
from kvsriov.api.naming import nic_object_name
from kvsriov.kubevirt.vfrequests import GATE
from kvsriov.sandbox import kubevirt
from kvsriov.sandbox.wait import wait_for
from kvsriov_operator.settings import Knobs

pytestmark = pytest.mark.both_servers
VMIS = "virtualmachineinstances"


@pytest.fixture
def cluster(kube_client: kubernetes.client.ApiClient) -> Cluster:
    return sriov_cluster(kube_client)


def doctor(kubeconfig: Path, *args: str) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "kvsriov.cli", "doctor", "--cluster", "--kubeconfig", str(kubeconfig), *args],
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


def test_drain_lists_the_vms_that_a_drain_of_the_node_would_wait_for(
    kubeconfig: Path, kube_client: kubernetes.client.ApiClient, cluster: Cluster
) -> None:
    """KubeVirt moves VMs on a drain (LiveMigrate): one VM on a Refuse network holds it up, one on
    an UnplugReplug network migrates (node-2 has free VFs), one with evictionStrategy None is
    stopped by the drain, and the VM on node-2 is not listed."""
    kubevirt_19(cluster, eviction_strategy="LiveMigrate")
    cluster.l3("l3-move", "l2-em2", namespaces=[NS], octet=101)
    cluster.patch(L3_PLURAL, "l3-move", {"spec": {"vmMigration": "UnplugReplug"}})
    for node in ("node-1", "node-2"):
        cluster.node(node)
        cluster.nic(node, "em2", num_vfs=4)
        cluster.custom.patch_cluster_custom_object_status(
            GROUP, VERSION, NIC_PLURAL, nic_object_name(node, "em2"), {"status": {"vfsAvailable": 2}}
        )
    for name, network, node, strategy in (
        ("vm-stuck", "l3-vlan100", "node-1", None),
        ("vm-moves", "l3-move", "node-1", None),
        ("vm-stops", "l3-vlan100", "node-1", "None"),
        ("vm-elsewhere", "l3-vlan100", "node-2", None),
    ):
        vmi = kubevirt.vmi(NS, name)  # a VMI of its own (no VM: its owner would need a real uid)
        vmi["spec"] = kubevirt.vm(NS, name, [network])["spec"]["template"]["spec"]
        if strategy:
            vmi["spec"]["evictionStrategy"] = strategy
        vmi["status"] = {"nodeName": node}
        created = cluster.custom.create_namespaced_custom_object("kubevirt.io", "v1", NS, VMIS, vmi)
        cluster.custom.patch_namespaced_custom_object(
            "kubevirt.io", "v1", NS, VMIS, created["metadata"]["name"], {"status": {"nodeName": node}}
        )
    with running_operator(kube_client, Knobs()):  # it renders the NADs the VMs' networks name
        wait_for(
            lambda: cluster.nad(NS, "l3-move") and cluster.nad(NS, "l3-vlan100"), timeout=20, what="NADs"
        )
    code, out = doctor(kubeconfig, "--drain", "node-1")
    assert code == 1, out
    assert out.splitlines()[0] == "kvsriov doctor --cluster --drain node-1"
    assert (
        "[FAIL] drain of node-1: default/vm-stuck: VirtualMachine default/vm-stuck has evictionStrategy "
        "LiveMigrate (the KubeVirt CR's spec.configuration.evictionStrategy) and VF NICs on SriovL3Network "
        "l3-vlan100 with vmMigration Refuse: a drain of its node will wait until the VM is stopped"
    ) in out
    assert "fix: before the drain: virtctl stop vm-stuck, or set spec.vmMigration: UnplugReplug" in out
    assert "[ok  ] drain of node-1: default/vm-moves: migrates" in out
    assert (
        "[note] drain of node-1: default/vm-stops: evictionStrategy None (its spec.evictionStrategy)" in out
    )
    assert "vm-elsewhere" not in out
    assert "verdict: the drain of node-1 would wait for 1 VM(s): default/vm-stuck" in out
    code, out = doctor(kubeconfig, "--drain", "node-3")
    assert code == 0 and "no running VM with VF NICs on this node" in out, out
