"""No VF free (issue: VMs on KubeVirt 1.7-1.9), on the emulated and the real API server.

Two nodes with em2 sliced into 2 VFs each, 0 and 1 of them free (the agents' NIC status);
an SR-IOV L3 network on em2. A VM with two VF NICs:
* creating it (runStrategy Always) answers with a warning: 1 VF free in the cluster, 2 asked;
* its VMI, once the scheduler left the launcher pod Unschedulable for `Insufficient
  kvsriov.io/em2` (copied onto the VMI as KubeVirt does), gets VfAvailable=False naming each
  node's free/total VFs, its VM a Warning Event, and `kubectl kvsriov nics` says why it waits;
* once scheduled, the condition goes.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml
from operator_helpers import Cluster, running_operator
from vm_helpers import NS, RESOURCE, kubectl, sriov_cluster, webhook_knobs

from kvsriov.api.conditions import now_rfc3339
from kvsriov.api.constants import GROUP, VERSION
from kvsriov.api.kinds import L3_PLURAL, NIC_PLURAL
from kvsriov.api.naming import nic_object_name
from kvsriov.kubevirt import vfsupply
from kvsriov.sandbox import kubevirt
from kvsriov.sandbox.wait import wait_for

pytestmark = [
    pytest.mark.both_servers,
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed (CI installs it)"),
]
KV = ("kubevirt.io", "v1", NS)


@pytest.fixture
def cluster(kube_client: kubernetes.client.ApiClient) -> Cluster:
    cluster = sriov_cluster(kube_client)
    for node, free in (("node-1", 0), ("node-2", 1)):
        cluster.node(node)
        cluster.nic(node, "em2", num_vfs=2)
        status = {"vfsAvailable": free, "state": "InUse"}
        cluster.custom.patch_cluster_custom_object_status(
            GROUP, VERSION, NIC_PLURAL, nic_object_name(node, "em2"), {"status": status}
        )
    return cluster


@pytest.fixture
def operator(kube_client: kubernetes.client.ApiClient, cluster: Cluster) -> Iterator[None]:
    admission = kubernetes.client.AdmissionregistrationV1Api(kube_client)

    def registered() -> bool:
        configs = admission.list_validating_webhook_configuration().items
        return any(
            w.name.startswith("vm-vfs.") and w.client_config.ca_bundle
            for c in configs
            for w in c.webhooks or []
        )

    with running_operator(kube_client, webhook_knobs()):
        wait_for(registered, timeout=20, what="the VM webhook")
        wait_for(lambda: cluster.nad(NS, "l3-vlan100") is not None, timeout=20, what="the NAD")
        yield


def vmi_condition(cluster: Cluster) -> dict[str, Any]:
    vmi = cluster.custom.get_namespaced_custom_object(*KV, "virtualmachineinstances", "vm-a")
    return next(
        (c for c in vmi.get("status", {}).get("conditions", []) if c["type"] == vfsupply.CONDITION), {}
    )


def test_a_vm_short_of_vfs_is_warned_then_told_where_vfs_are(
    kubeconfig: Path, cluster: Cluster, operator: None
) -> None:
    body = kubevirt.vm(NS, "vm-a", ["l3-vlan100", "l3-vlan100"])
    created = kubectl(kubeconfig, "create", "-f", "-", stdin=yaml.safe_dump(body))
    assert created.returncode == 0, created.stderr
    assert (
        f"Warning: this VM asks for 2 VF(s) of {RESOURCE} and 1 are free in the cluster "
        "(node-1: 0 of 2 free, node-2: 1 of 2 free): it will wait for a free VF when it starts"
    ) in created.stderr

    stored = cluster.custom.get_namespaced_custom_object(*KV, "virtualmachines", "vm-a")
    vmi = cluster.custom.create_namespaced_custom_object(
        *KV, "virtualmachineinstances", kubevirt.vmi_of(stored)
    )
    pending = {"phase": "Scheduling", "conditions": [kubevirt.unschedulable([RESOURCE], 2, now_rfc3339())]}
    cluster.custom.patch_namespaced_custom_object(*KV, "virtualmachineinstances", "vm-a", {"status": pending})
    wait_for(lambda: vmi_condition(cluster).get("reason") == "NoVfFree", timeout=20, what="VfAvailable=False")
    message = vmi_condition(cluster)["message"]
    assert f"asks for 2 VF(s) of {RESOURCE}" in message
    assert "(node-1: 0 of 2 free, node-2: 1 of 2 free)" in message
    conditions = cluster.custom.get_namespaced_custom_object(*KV, "virtualmachineinstances", "vm-a")["status"]
    assert any(c["type"] == "PodScheduled" for c in conditions["conditions"])  # KubeVirt's stays

    def vm_event() -> bool:
        events = cluster.core.list_namespaced_event(NS).items
        return any(
            e.reason == "NoVfFree"
            and e.involved_object.kind == "VirtualMachine"
            and e.involved_object.name == "vm-a"
            for e in events
        )

    wait_for(vm_event, timeout=20, what="a NoVfFree Event on the VM")
    nics = kubectl(kubeconfig, "kvsriov", "nics", "vm-a")
    assert (
        "(waiting for a VF)" in nics.stdout
        and "vm-a waits for a VF: the VM's launcher pod asks" in nics.stdout
    )

    scheduled = {
        "type": "PodScheduled",
        "status": "True",
        "lastTransitionTime": now_rfc3339(),
        "lastProbeTime": None,
    }
    current = cluster.custom.get_namespaced_custom_object(*KV, "virtualmachineinstances", "vm-a")
    others = [c for c in current["status"]["conditions"] if c["type"] not in ("PodScheduled",)]
    cluster.custom.patch_namespaced_custom_object(
        *KV, "virtualmachineinstances", "vm-a", {"status": {"conditions": [*others, scheduled]}}
    )
    wait_for(lambda: not vmi_condition(cluster), timeout=20, what="VfAvailable to go once scheduled")
    assert vmi["metadata"]["name"] == "vm-a"


def test_a_stopped_vm_is_not_warned(kubeconfig: Path, cluster: Cluster, operator: None) -> None:
    body = kubevirt.vm(NS, "vm-b", ["l3-vlan100", "l3-vlan100"], run_strategy="Halted")
    created = kubectl(kubeconfig, "create", "-f", "-", stdin=yaml.safe_dump(body))
    assert created.returncode == 0 and "Warning" not in created.stderr, created.stderr
    started = kubectl(
        kubeconfig, "patch", "vm", "vm-b", "--type=merge", "-p", '{"spec":{"runStrategy":"Always"}}'
    )
    assert started.returncode == 0, started.stderr
    assert "it will wait for a free VF when it starts" in started.stderr


def test_a_nic_type_switch_made_by_hand_is_refused_while_the_vm_runs(
    kubeconfig: Path, cluster: Cluster, operator: None
) -> None:
    stored = cluster.custom.create_namespaced_custom_object(
        *KV, "virtualmachines", kubevirt.vm(NS, "vm-c", ["l3-vlan100"], run_strategy="Always")
    )
    vmi = kubevirt.vmi_of(stored)
    cluster.custom.create_namespaced_custom_object(*KV, "virtualmachineinstances", vmi)
    template = stored["spec"]["template"]["spec"]
    template["domain"]["devices"]["interfaces"][1] = {"name": "vf1", "bridge": {}}
    template["networks"][1] = {"name": "vf1", "multus": {"networkName": "l3-vlan100-vnic"}}
    patch = {"spec": {"template": {"spec": template}}}
    with pytest.raises(kubernetes.client.ApiException) as refused:
        cluster.custom.patch_namespaced_custom_object(*KV, "virtualmachines", "vm-c", patch)
    assert refused.value.status == 422
    message = json.loads(refused.value.body)["message"]  # the real server escapes ">" as \u003e
    assert "VirtualMachine default/vm-c is running: NIC type of vf1 (VF -> vNIC) can change only" in message
    cluster.custom.delete_namespaced_custom_object(*KV, "virtualmachineinstances", "vm-c")  # stopped
    cluster.custom.patch_namespaced_custom_object(*KV, "virtualmachines", "vm-c", patch)


def test_a_vf_nic_added_by_hand_to_a_running_vm_follows_the_migration_policy(
    cluster: Cluster, operator: None
) -> None:
    """KubeVirt hotplugs it through a live migration: refused on a Refuse network, in attach-vf's words."""
    stored = cluster.custom.create_namespaced_custom_object(
        *KV, "virtualmachines", kubevirt.vm(NS, "vm-d", ["l3-vlan100"], run_strategy="Always")
    )
    cluster.custom.create_namespaced_custom_object(*KV, "virtualmachineinstances", kubevirt.vmi_of(stored))
    template = stored["spec"]["template"]["spec"]
    template["domain"]["devices"]["interfaces"].append({"name": "vf2", "sriov": {}})
    template["networks"].append({"name": "vf2", "multus": {"networkName": "l3-vlan100"}})
    patch = {"spec": {"template": {"spec": template}}}
    with pytest.raises(kubernetes.client.ApiException) as refused:
        cluster.custom.patch_namespaced_custom_object(*KV, "virtualmachines", "vm-d", patch)
    message = json.loads(refused.value.body)["message"]
    assert "VirtualMachine default/vm-d is running, and KubeVirt adds a VF NIC to a running VM" in message
    assert "SriovL3Network l3-vlan100 refuses (vmMigration Refuse): stop the VM first" in message
    cluster.patch(L3_PLURAL, "l3-vlan100", {"spec": {"vmMigration": "UnplugReplug"}})
    cluster.custom.patch_namespaced_custom_object(*KV, "virtualmachines", "vm-d", patch)  # now it may
