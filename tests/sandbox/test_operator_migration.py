"""Migration of VMs with VF NICs (DESIGN §4), on the emulated and the real API server.

Two nodes with em2 sliced into 4 VFs each (the agents' NIC status says how many are free), an
SR-IOV L3 network on em2 rendered into `default`, the operator with its webhooks. A VM runs on
node-1 with one VF NIC. KubeVirt is not here (its modules are not served to us): the tests
create what its parts would (kvsriov/sandbox/kubevirt.py names the upstream files):
* each initiator's VMIM (a user's virtctl migrate, a drain's evacuation, the workload updater)
  under vmMigration Refuse, then UnplugReplug;
* UnplugReplug with no free VF on any other node: refused with the counts;
* a VM whose eviction strategy would move it on a drain: warned when created, VfMigratable on
  its VMI, gone when its network allows UnplugReplug;
* a completed migration: the target launcher pod with (or without) its new VF;
* the operator down: migrations pass, our own kinds fail closed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml
from kubernetes.client.exceptions import ApiException
from operator_helpers import Cluster, running_operator
from vm_helpers import (
    CONFIGURATION,
    NS,
    RESOURCE,
    kubectl,
    kubevirt_19,
    sriov_cluster,
    validating_webhooks,
    webhook_knobs,
)

from kvsriov.api.conditions import now_rfc3339
from kvsriov.api.constants import GROUP, VERSION
from kvsriov.api.kinds import L3_PLURAL, NIC_PLURAL
from kvsriov.api.naming import nic_object_name
from kvsriov.kubevirt import migration
from kvsriov.sandbox import kubevirt
from kvsriov.sandbox.wait import wait_for

pytestmark = pytest.mark.both_servers
KV = ("kubevirt.io", "v1", NS)
VMIS, VMIMS = "virtualmachineinstances", "virtualmachineinstancemigrations"


def free_vfs(cluster: Cluster, node: str, free: int) -> None:
    """What node's agent reports: em2 with 4 VFs, `free` of them neither allocated nor unhealthy."""
    status = {"vfsAvailable": free, "state": "InUse"}
    cluster.custom.patch_cluster_custom_object_status(
        GROUP, VERSION, NIC_PLURAL, nic_object_name(node, "em2"), {"status": status}
    )


@pytest.fixture
def cluster(kube_client: kubernetes.client.ApiClient) -> Cluster:
    cluster = sriov_cluster(kube_client)
    for node in ("node-1", "node-2"):
        cluster.node(node)
        cluster.nic(node, "em2", num_vfs=4)
        free_vfs(cluster, node, 3)
    return cluster


@pytest.fixture
def operator(kube_client: kubernetes.client.ApiClient, cluster: Cluster) -> Iterator[None]:
    def registered() -> bool:
        return any(w.name.startswith("vmim.") for w in validating_webhooks(kube_client))

    with running_operator(kube_client, webhook_knobs()):
        wait_for(registered, timeout=20, what="the migration webhook")
        wait_for(lambda: cluster.nad(NS, "l3-vlan100") is not None, timeout=20, what="the NAD")
        wait_for(lambda: sum_free(cluster) == 6, timeout=20, what="the operator to see the free VFs")
        yield


def sum_free(cluster: Cluster) -> int:
    """Free VFs as the operator's cache will see them: the NICs' status, read back."""
    items = cluster.custom.list_cluster_custom_object(GROUP, VERSION, NIC_PLURAL)["items"]
    return sum(int((n.get("status") or {}).get("vfsAvailable") or 0) for n in items)


def running_vm(cluster: Cluster, name: str, node: str = "node-1", **template: Any) -> dict[str, Any]:
    """A VM with one VF NIC on l3-vlan100 and its VMI on `node` (as virt-controller makes it)."""
    body = kubevirt.vm(NS, name, ["l3-vlan100"])
    body["spec"]["template"]["spec"].update(template)
    stored = cluster.custom.create_namespaced_custom_object(*KV, "virtualmachines", body)
    cluster.custom.create_namespaced_custom_object(*KV, VMIS, kubevirt.vmi_of(stored))
    return dict(
        cluster.custom.patch_namespaced_custom_object(*KV, VMIS, name, {"status": {"nodeName": node}})
    )


def migrate(cluster: Cluster, vmi: str, initiator: str = "user", node: str = "") -> dict[str, Any]:
    return dict(
        cluster.custom.create_namespaced_custom_object(*KV, VMIMS, kubevirt.vmim(NS, vmi, initiator, node))
    )


def refused(call: Any) -> str:
    with pytest.raises(ApiException) as caught:
        call()
    assert caught.value.status == 422, caught.value.body
    return str(json.loads(caught.value.body)["message"])


def vmi_condition(cluster: Cluster, name: str) -> dict[str, Any]:
    vmi = cluster.custom.get_namespaced_custom_object(*KV, VMIS, name)
    found = [c for c in (vmi.get("status") or {}).get("conditions") or [] if c["type"] == migration.CONDITION]
    return found[0] if found else {}


def vm_events(cluster: Cluster, vm: str, reason: str) -> list[str]:
    return [
        e.message
        for e in cluster.core.list_namespaced_event(NS).items
        if e.reason == reason and e.involved_object.kind == "VirtualMachine" and e.involved_object.name == vm
    ]


def test_each_initiator_is_refused_under_refuse_and_let_through_under_unplug_replug(
    cluster: Cluster, operator: None
) -> None:
    """Refuse names who asked and the two ways out; KubeVirt's own initiators leave the VM a
    condition and an Event saying what waits for it; UnplugReplug lets all three through."""
    running_vm(cluster, "vm-a")
    by_user = refused(lambda: migrate(cluster, "vm-a"))
    assert by_user == (
        f'admission webhook "vmim.{CONFIGURATION}" denied the request: spec.vmiName: '
        "VirtualMachineInstance default/vm-a has VF NICs (vf1 on l3-vlan100) on SriovL3Network l3-vlan100 "
        "with vmMigration Refuse, asked by a user: stop the VM (virtctl stop), or set "
        "spec.vmMigration: UnplugReplug on SriovL3Network l3-vlan100"
    )
    assert vmi_condition(cluster, "vm-a") == {}  # the user read the refusal: nothing else waits

    by_drain = refused(lambda: migrate(cluster, "vm-a", "evacuation", "node-1"))
    assert "asked by KubeVirt's evacuation for a drain of node node-1: stop the VM" in by_drain
    wait_for(
        lambda: vmi_condition(cluster, "vm-a").get("reason") == migration.REASON_DRAIN_WAITING,
        timeout=20,
        what="VfMigratable=False DrainWaiting on the VMI",
    )
    condition = vmi_condition(cluster, "vm-a")
    assert condition["status"] == "False"
    assert condition["message"].startswith(
        "a drain of node node-1 is waiting for VirtualMachine default/vm-a, whose migration kvsriov refused"
    )
    wait_for(lambda: vm_events(cluster, "vm-a", migration.REASON_DRAIN_WAITING), timeout=20, what="the Event")
    refused(lambda: migrate(cluster, "vm-a", "evacuation", "node-1"))  # KubeVirt retries: one Event
    assert len(vm_events(cluster, "vm-a", migration.REASON_DRAIN_WAITING)) == 1

    by_updater = refused(lambda: migrate(cluster, "vm-a", "workload-update"))
    assert "asked by KubeVirt's workload updater (a KubeVirt update, or a NIC hotplug" in by_updater
    wait_for(
        lambda: vmi_condition(cluster, "vm-a").get("reason") == migration.REASON_UPDATE_WAITING,
        timeout=20,
        what="VfMigratable=False UpdateWaiting on the VMI",
    )
    assert vm_events(cluster, "vm-a", migration.REASON_UPDATE_WAITING)

    cluster.patch(L3_PLURAL, "l3-vlan100", {"spec": {"vmMigration": "UnplugReplug"}})
    for initiator in ("evacuation", "workload-update", "user"):
        created = migrate(cluster, "vm-a", initiator, "node-1")
        assert created["metadata"]["name"].startswith(
            kubevirt.vmim(NS, "x", initiator)["metadata"]["generateName"]
        )
    wait_for(lambda: vmi_condition(cluster, "vm-a") == {}, timeout=20, what="the waiting condition to go")


def test_a_vm_without_vf_nics_is_not_our_call(cluster: Cluster, operator: None) -> None:
    body = kubevirt.vmi(NS, "vm-plain", "node-1")
    body["spec"] = {"domain": {"devices": {"interfaces": [{"name": "default", "masquerade": {}}]}}}
    cluster.custom.create_namespaced_custom_object(*KV, VMIS, body)
    migrate(cluster, "vm-plain", "evacuation", "node-1")


def test_unplug_replug_is_refused_with_the_counts_when_no_other_node_has_a_free_vf(
    cluster: Cluster, operator: None
) -> None:
    cluster.patch(L3_PLURAL, "l3-vlan100", {"spec": {"vmMigration": "UnplugReplug"}})
    running_vm(cluster, "vm-b")
    free_vfs(cluster, "node-2", 0)
    wait_for(lambda: sum_free(cluster) == 3, timeout=20, what="node-2's VFs all taken")

    def refusal() -> str | None:
        try:
            migrate(cluster, "vm-b", "evacuation", "node-1")
        except ApiException as exc:
            return str(json.loads(exc.body)["message"])
        return None

    # the operator's cache may lag the NIC status by a moment: the first try may still pass
    message = wait_for(refusal, timeout=20, what="the capacity refusal")
    assert (
        "VirtualMachine default/vm-b would lose its VF NICs: no node other than node-1 has "
        f"1 free VF(s) of {RESOURCE} (node-2: 0 of 4 free); free VFs on another node"
    ) in message
    wait_for(
        lambda: vmi_condition(cluster, "vm-b").get("reason") == migration.REASON_DRAIN_WAITING,
        timeout=20,
        what="the drain told it waits",
    )
    free_vfs(cluster, "node-2", 1)
    wait_for(lambda: refusal() is None, timeout=20, what="the migration to pass once node-2 frees a VF")
    wait_for(lambda: vmi_condition(cluster, "vm-b") == {}, timeout=20, what="the waiting condition to go")


def test_a_vm_whose_drains_would_wait_is_warned_and_shows_it(
    kubeconfig: Path, kube_client: kubernetes.client.ApiClient, cluster: Cluster, operator: None
) -> None:
    kubevirt_19(cluster, eviction_strategy="LiveMigrate")
    body = kubevirt.vm(NS, "vm-c", ["l3-vlan100"])

    def warned() -> str | None:
        done = kubectl(kubeconfig, "create", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(body))
        return done.stderr if "drain of its node will wait" in done.stderr else None

    # the operator reads the KubeVirt CR from its watch: wait until it has
    stderr = wait_for(warned, timeout=20, what="the drain warning")
    assert (
        "Warning: VirtualMachine default/vm-c has evictionStrategy LiveMigrate (the KubeVirt CR's "
        "spec.configuration.evictionStrategy) and VF NICs on SriovL3Network l3-vlan100 with vmMigration "
        "Refuse: a drain of its node will wait until the VM is stopped; set "
        "spec.template.spec.evictionStrategy: None on the VM (a drain then stops it), or "
        "spec.vmMigration: UnplugReplug on SriovL3Network l3-vlan100"
    ) in stderr
    own = kubevirt.vm(NS, "vm-d", ["l3-vlan100"])
    own["spec"]["template"]["spec"]["evictionStrategy"] = "None"
    created = kubectl(kubeconfig, "create", "-f", "-", stdin=yaml.safe_dump(own))
    assert created.returncode == 0 and "drain" not in created.stderr, created.stderr

    running_vm(cluster, "vm-c")
    wait_for(
        lambda: vmi_condition(cluster, "vm-c").get("reason") == migration.REASON_DRAIN_WOULD_WAIT,
        timeout=20,
        what="VfMigratable=False DrainWouldWait on the VMI",
    )
    assert (
        "a drain of its node will wait until the VM is stopped" in vmi_condition(cluster, "vm-c")["message"]
    )
    cluster.patch(L3_PLURAL, "l3-vlan100", {"spec": {"vmMigration": "UnplugReplug"}})
    wait_for(lambda: vmi_condition(cluster, "vm-c") == {}, timeout=20, what="the condition to go")


def launcher(cluster: Cluster, vmi: dict[str, Any], node: str, pci: str | None) -> dict[str, Any]:
    """The launcher pod of `vmi` on `node`, with Multus' network-status (`pci`: its VF, if any)."""
    nic = kubevirt.LauncherNic("vf1", "l3-vlan100", mac="02:00:00:00:00:01")
    pod = kubevirt.launcher_pod(vmi, [nic])
    pod["spec"]["nodeName"] = node
    stored = cluster.core.create_namespaced_pod(NS, pod)
    stored = cluster.core.api_client.sanitize_for_serialization(stored)
    result = {"ips": ["192.168.100.10"], "mac": "02:00:00:00:00:01", **({"pci": pci} if pci else {})}
    status = kubevirt.network_status(stored, [result])
    annotations = {"k8s.v1.cni.cncf.io/network-status": json.dumps(status)}
    cluster.core.patch_namespaced_pod(
        stored["metadata"]["name"], NS, {"metadata": {"annotations": annotations}}
    )
    return dict(stored)


@pytest.mark.parametrize("came_back", [True, False], ids=["replugged", "lost"])
def test_after_a_migration_the_vm_is_told_where_its_vfs_went(
    cluster: Cluster, operator: None, came_back: bool
) -> None:
    cluster.patch(L3_PLURAL, "l3-vlan100", {"spec": {"vmMigration": "UnplugReplug"}})
    vmi = running_vm(cluster, "vm-e")
    source = launcher(cluster, vmi, "node-1", "0000:03:10.0")
    vmim = migrate(cluster, "vm-e")
    target = launcher(cluster, vmi, "node-2", "0000:03:10.2" if came_back else None)
    status = kubevirt.migrated_status(vmim["metadata"]["uid"], source, target, now_rfc3339())
    cluster.custom.patch_namespaced_custom_object(*KV, VMIS, "vm-e", {"status": status})
    reason = migration.REASON_VF_REPLUGGED if came_back else migration.REASON_VF_NOT_REPLUGGED
    messages = wait_for(lambda: vm_events(cluster, "vm-e", reason), timeout=20, what=f"a {reason} Event")
    if came_back:
        assert messages == [
            "VirtualMachine default/vm-e migrated with its VF NICs: "
            "vf1: 0000:03:10.0 on node-1 -> 0000:03:10.2 on node-2"
        ]
    else:
        assert messages[0].startswith(
            "VirtualMachine default/vm-e migrated but its VF NICs vf1 have no VF on the target node"
        )
    stored = cluster.custom.get_namespaced_custom_object(*KV, VMIS, "vm-e")
    # the migration checked is remembered on the VMI: each migration is reported once
    assert stored["metadata"]["annotations"]["kvsriov.io/vf-migration-checked"] == vmim["metadata"]["uid"]


def test_with_the_operator_down_migrations_pass_and_our_kinds_fail_closed(
    kube_client: kubernetes.client.ApiClient, cluster: Cluster
) -> None:
    """As a crashed operator leaves it: the configuration kopf registered, nobody answering."""
    admission = kubernetes.client.AdmissionregistrationV1Api(kube_client)
    with running_operator(kube_client, webhook_knobs()):
        config = wait_for(
            lambda: next(
                (
                    c
                    for c in [admission.read_validating_webhook_configuration(CONFIGURATION)]
                    if any(w.name.startswith("vmim.") and w.client_config.ca_bundle for w in c.webhooks or [])
                ),
                None,
            ),
            timeout=20,
            what="the webhooks",
        )
    body = kube_client.sanitize_for_serialization(config)
    for webhook in body["webhooks"]:
        webhook["clientConfig"]["url"] = "https://127.0.0.1:9/"  # nothing listens there
    try:
        admission.delete_validating_webhook_configuration(CONFIGURATION)
    except ApiException as exc:
        if exc.status != 404:
            raise
    body["metadata"] = {"name": CONFIGURATION}
    admission.create_validating_webhook_configuration(body)
    try:
        running_vm(cluster, "vm-f")
        migrate(cluster, "vm-f", "evacuation", "node-1")  # Ignore: the drain goes on
        with pytest.raises(ApiException) as caught:
            cluster.l3("l3-other", "l2-em2", namespaces=[NS], octet=101)
        assert "failed calling webhook" in json.loads(caught.value.body)["message"]
    finally:
        admission.delete_validating_webhook_configuration(CONFIGURATION)
