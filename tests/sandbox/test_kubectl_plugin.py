"""`kubectl kvsriov`, found and run by kubectl as a plugin (kubectl-kvsriov on PATH), against the
emulated and the real API server: a VM's NICs with the VF behind each, and attaching a VF NIC.

The objects stand for what the others write: the operator's L3 status, the agent's NIC status,
KubeVirt's VM and virt-launcher pod, and Multus's network-status annotation on that pod.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from kvsriov.api.constants import GROUP, VERSION
from kvsriov.api.kinds import L3_PLURAL, NIC_PLURAL
from kvsriov.kubevirt import launcher
from kvsriov.sandbox import kubevirt
from kvsriov.sandbox.kubevirt import LauncherNic

pytestmark = [
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed (CI installs it)"),
    pytest.mark.both_servers,
]

VF_PCI = "0000:03:10.1"


def kubectl(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    env["PATH"] = (
        f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # where kubectl-kvsriov is
    )
    return subprocess.run(
        ["kubectl", *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def sliced_em2(
    custom: kubernetes.client.CustomObjectsApi, node: str, bus: str, owner_of_vf0: str | None = None
) -> None:
    """What the agent of `node` writes for em2 sliced into 4 VFs at `bus`.1, .3, .5, .7."""
    nic = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SriovPhysicalNic",
        "metadata": {
            "name": f"{node}.em2",
            "labels": {"kvsriov.io/node": node, "kvsriov.io/interface": "em2"},
        },
        "spec": {"nodeName": node, "interface": "em2", "numVfs": 4},
    }
    custom.create_cluster_custom_object(GROUP, VERSION, NIC_PLURAL, nic)
    vfs: list[dict[str, Any]] = [{"index": i, "pciAddress": f"{bus}.{2 * i + 1}"} for i in range(4)]
    if owner_of_vf0:
        vfs[0] |= {"allocated": True, "owner": owner_of_vf0}
    custom.patch_cluster_custom_object_status(
        GROUP, VERSION, NIC_PLURAL, f"{node}.em2", {"status": {"vfs": vfs}}
    )


@pytest.fixture
def cluster(kube_client: kubernetes.client.ApiClient) -> kubernetes.client.CustomObjectsApi:
    custom = kubernetes.client.CustomObjectsApi(kube_client)
    core = kubernetes.client.CoreV1Api(kube_client)
    try:  # the real server, without its controller manager, makes no default service account
        core.create_namespaced_service_account("default", {"metadata": {"name": "default"}})
    except kubernetes.client.ApiException as exc:
        if exc.status != 409:
            raise
    l3 = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SriovL3Network",
        "metadata": {"name": "l3-vlan100"},
        "spec": {
            "l2Network": "l2-em2",
            "ipam": {
                "cidr": "192.168.100.0/24",
                "ranges": [{"start": "192.168.100.10", "end": "192.168.100.99"}],
            },
            "namespaces": ["default"],
            "vmMigration": "UnplugReplug",  # VF NICs may be added to the running vm-a
        },
    }
    custom.create_cluster_custom_object(GROUP, VERSION, L3_PLURAL, l3)
    custom.patch_cluster_custom_object_status(
        GROUP, VERSION, L3_PLURAL, "l3-vlan100", {"status": {"sriovEnabled": True}}
    )
    sliced_em2(custom, "node-2", "0000:03:10", owner_of_vf0="VM default/vm-a")
    vm = {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": "vm-a"},
        "spec": {
            "runStrategy": "Always",
            "template": {
                "spec": {
                    "domain": {
                        "devices": {
                            "interfaces": [
                                {"name": "default", "masquerade": {}},
                                {"name": "vf1", "sriov": {}},
                            ]
                        }
                    },
                    "networks": [
                        {"name": "default", "pod": {}},
                        {"name": "vf1", "multus": {"networkName": "l3-vlan100"}},
                    ],
                }
            },
        },
    }
    custom.create_namespaced_custom_object("kubevirt.io", "v1", "default", "virtualmachines", vm)
    start_vm(custom, core, [LauncherNic("vf1", "l3-vlan100")], [{"pci": VF_PCI, "ips": ["192.168.100.10"]}])
    return custom


def start_vm(
    custom: kubernetes.client.CustomObjectsApi,
    core: kubernetes.client.CoreV1Api,
    nics: list[LauncherNic],
    attached: list[dict[str, Any]],
    node: str = "node-2",
    ordinal: bool = False,
) -> dict[str, Any]:
    """What KubeVirt and Multus leave behind a running vm-a: its VMI on `node`, its launcher pod
    there with Multus' network-status; `ordinal`: the pod interfaces of a VM an older KubeVirt
    started (net1, net2, ...)."""
    try:
        vmi = custom.create_namespaced_custom_object(
            "kubevirt.io", "v1", "default", "virtualmachineinstances", kubevirt.vmi("default", "vm-a", node)
        )
    except kubernetes.client.ApiException as exc:
        if exc.status != 409:
            raise
        vmi = custom.get_namespaced_custom_object(
            "kubevirt.io", "v1", "default", "virtualmachineinstances", "vm-a"
        )
    pod = kubevirt.launcher_pod(vmi, nics)
    pod["spec"]["nodeName"] = node
    status = kubevirt.network_status(pod, attached)
    if ordinal:
        for n, entry in enumerate(status[1:], 1):
            entry["interface"] = f"net{n}"
    pod["metadata"]["annotations"][launcher.NETWORK_STATUS_ANNOTATION] = json.dumps(status)
    created = core.create_namespaced_pod("default", pod)
    active = {created.metadata.uid: node}
    custom.patch_namespaced_custom_object(
        "kubevirt.io",
        "v1",
        "default",
        "virtualmachineinstances",
        "vm-a",
        {"status": {"nodeName": node, "activePods": active}},
    )
    return pod


def test_nics_shows_each_nic_type_and_the_vf_behind_it(kubeconfig: Path, cluster: Any) -> None:
    done = kubectl(kubeconfig, "kvsriov", "nics", "vm-a")
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()]
    assert rows[0] == ["NAME", "TYPE", "NETWORK", "NODE", "PF", "VF", "PCI"]
    assert rows[1][:2] == ["default", "vNIC"]
    assert rows[2] == ["vf1", "VF", "default/l3-vlan100", "node-2", "em2", "0", VF_PCI]


def test_two_vf_nics_on_one_network_are_told_apart_by_pod_interface(kubeconfig: Path, cluster: Any) -> None:
    """Multus lists vf2 first here: pairing by order would swap the two VFs."""
    assert (
        kubectl(
            kubeconfig, "kvsriov", "attach-vf", "vm-a", "--network", "l3-vlan100", "--name", "vf2"
        ).returncode
        == 0
    )
    core = kubernetes.client.CoreV1Api(cluster.api_client)
    core.delete_collection_namespaced_pod("default", grace_period_seconds=0)
    nics = [LauncherNic("vf2", "l3-vlan100"), LauncherNic("vf1", "l3-vlan100")]
    start_vm(cluster, core, nics, [{"pci": "0000:03:10.3"}, {"pci": VF_PCI}])
    rows = [line.split() for line in kubectl(kubeconfig, "kvsriov", "nics", "vm-a").stdout.splitlines()]
    assert [(r[0], r[5], r[6]) for r in rows[2:]] == [("vf1", "0", VF_PCI), ("vf2", "1", "0000:03:10.3")]


def test_a_vm_started_by_an_older_kubevirt_keeps_ordinal_pod_interfaces(
    kubeconfig: Path, cluster: Any
) -> None:
    core = kubernetes.client.CoreV1Api(cluster.api_client)
    core.delete_collection_namespaced_pod("default", grace_period_seconds=0)
    start_vm(cluster, core, [LauncherNic("vf1", "l3-vlan100")], [{"pci": VF_PCI}], ordinal=True)
    rows = [line.split() for line in kubectl(kubeconfig, "kvsriov", "nics", "vm-a").stdout.splitlines()]
    assert rows[2] == ["vf1", "VF", "default/l3-vlan100", "node-2", "em2", "0", VF_PCI]


def test_after_a_migration_the_nics_are_read_from_the_target_pod(kubeconfig: Path, cluster: Any) -> None:
    """Source and target launcher pods side by side: the VMI's node and activePods say which is live."""
    core = kubernetes.client.CoreV1Api(cluster.api_client)
    source = core.list_namespaced_pod("default").items[0]
    sliced_em2(cluster, "node-3", "0000:05:10")
    target = start_vm(
        cluster, core, [LauncherNic("vf1", "l3-vlan100")], [{"pci": "0000:05:10.5"}], node="node-3"
    )
    target_uid = next(
        p.metadata.uid
        for p in core.list_namespaced_pod("default").items
        if p.metadata.uid != source.metadata.uid
    )
    cluster.patch_namespaced_custom_object(
        "kubevirt.io",
        "v1",
        "default",
        "virtualmachineinstances",
        "vm-a",
        {"status": {"activePods": {source.metadata.uid: "node-2", target_uid: "node-3"}}},
    )
    assert target["metadata"]["namespace"] == "default"
    rows = [line.split() for line in kubectl(kubeconfig, "kvsriov", "nics", "vm-a").stdout.splitlines()]
    assert rows[2] == ["vf1", "VF", "default/l3-vlan100", "node-3", "em2", "2", "0000:05:10.5"]


def test_attach_vf_adds_the_interface_and_its_network(kubeconfig: Path, cluster: Any) -> None:
    done = kubectl(kubeconfig, "kvsriov", "attach-vf", "vm-a", "--network", "l3-vlan100", "--name", "vf2")
    assert done.returncode == 0, done.stderr
    assert "VF NIC vf2 on default/l3-vlan100 added" in done.stdout
    spec = cluster.get_namespaced_custom_object("kubevirt.io", "v1", "default", "virtualmachines", "vm-a")[
        "spec"
    ]["template"]["spec"]
    assert spec["domain"]["devices"]["interfaces"][-1] == {"name": "vf2", "sriov": {}}
    assert spec["networks"][-1] == {"name": "vf2", "multus": {"networkName": "default/l3-vlan100"}}
    assert len(spec["networks"]) == 3  # the others are untouched


def test_attach_vf_refusals_say_what_to_do(kubeconfig: Path, cluster: Any) -> None:
    taken = kubectl(kubeconfig, "kvsriov", "attach-vf", "vm-a", "--network", "l3-vlan100", "--name", "vf1")
    assert taken.returncode == 1 and "already has a NIC named vf1; use --name" in taken.stderr
    elsewhere = kubectl(kubeconfig, "kvsriov", "attach-vf", "vm-b", "-n", "vms", "--network", "l3-vlan100")
    assert elsewhere.returncode == 1 and "VirtualMachine vms/vm-b not found" in elsewhere.stderr
    cluster.patch_cluster_custom_object_status(
        GROUP, VERSION, L3_PLURAL, "l3-vlan100", {"status": {"sriovEnabled": False}}
    )
    off = kubectl(kubeconfig, "kvsriov", "attach-vf", "vm-a", "--network", "l3-vlan100", "--name", "vf3")
    assert off.returncode == 1 and "SR-IOV is off on SriovL3Network l3-vlan100" in off.stderr


def test_set_nic_type_is_refused_while_the_vm_runs(kubeconfig: Path, cluster: Any) -> None:
    done = kubectl(kubeconfig, "kvsriov", "set-nic-type", "vm-a", "vf1", "vnic")
    assert done.returncode == 1
    assert (
        "VirtualMachine default/vm-a is running: a NIC's type changes only while it is stopped" in done.stderr
    )


def test_set_nic_type_switches_a_stopped_vms_nic_and_back(kubeconfig: Path, cluster: Any) -> None:
    cluster.delete_namespaced_custom_object("kubevirt.io", "v1", "default", "virtualmachineinstances", "vm-a")
    done = kubectl(kubeconfig, "kvsriov", "set-nic-type", "vm-a", "vf1", "vnic")
    assert done.returncode == 0, done.stderr
    assert "NIC vf1 is now a vNIC" in done.stdout

    def vf1() -> tuple[dict[str, Any], dict[str, Any]]:
        spec = cluster.get_namespaced_custom_object(
            "kubevirt.io", "v1", "default", "virtualmachines", "vm-a"
        )["spec"]["template"]["spec"]
        interface = next(i for i in spec["domain"]["devices"]["interfaces"] if i["name"] == "vf1")
        network = next(n for n in spec["networks"] if n["name"] == "vf1")
        return interface, network

    assert vf1() == (
        {"name": "vf1", "bridge": {}},
        {"name": "vf1", "multus": {"networkName": "default/l3-vlan100-vnic"}},
    )
    rows = [line.split() for line in kubectl(kubeconfig, "kvsriov", "nics", "vm-a").stdout.splitlines()]
    assert rows[2][:3] == ["vf1", "vNIC", "default/l3-vlan100-vnic"]
    again = kubectl(kubeconfig, "kvsriov", "set-nic-type", "vm-a", "vf1", "vnic")
    assert again.returncode == 1 and "is already a vNIC" in again.stderr
    assert kubectl(kubeconfig, "kvsriov", "set-nic-type", "vm-a", "vf1", "vf").returncode == 0
    assert vf1() == (
        {"name": "vf1", "sriov": {}},
        {"name": "vf1", "multus": {"networkName": "default/l3-vlan100"}},
    )


def test_attach_vf_to_a_running_vm_follows_the_networks_migration_policy(
    kubeconfig: Path, cluster: Any
) -> None:
    added = kubectl(kubeconfig, "kvsriov", "attach-vf", "vm-a", "--network", "l3-vlan100", "--name", "vf2")
    assert added.returncode == 0 and "takes effect through a live migration KubeVirt starts" in added.stdout
    cluster.patch_cluster_custom_object(
        GROUP, VERSION, L3_PLURAL, "l3-vlan100", {"spec": {"vmMigration": "Refuse"}}
    )
    refused = kubectl(kubeconfig, "kvsriov", "attach-vf", "vm-a", "--network", "l3-vlan100", "--name", "vf3")
    assert refused.returncode == 1
    assert "which SriovL3Network l3-vlan100 refuses (vmMigration Refuse): stop the VM first" in refused.stderr
