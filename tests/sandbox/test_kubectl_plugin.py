"""`kubectl kvsriov`, found and run by kubectl as a plugin (kubectl-kvsriov on PATH), against the
emulated API server: a VM's NICs with the VF behind each, and attaching a VF NIC.

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

pytestmark = pytest.mark.skipif(
    shutil.which("kubectl") is None, reason="kubectl is not installed (CI installs it)"
)

VF_PCI = "0000:03:10.1"


def kubectl(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    env["PATH"] = (
        f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # where kubectl-kvsriov is
    )
    return subprocess.run(
        ["kubectl", *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def cluster(kube_client: kubernetes.client.ApiClient) -> kubernetes.client.CustomObjectsApi:
    custom = kubernetes.client.CustomObjectsApi(kube_client)
    core = kubernetes.client.CoreV1Api(kube_client)
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
        },
    }
    custom.create_cluster_custom_object(GROUP, VERSION, L3_PLURAL, l3)
    custom.patch_cluster_custom_object_status(
        GROUP, VERSION, L3_PLURAL, "l3-vlan100", {"status": {"sriovEnabled": True}}
    )
    nic = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SriovPhysicalNic",
        "metadata": {
            "name": "node-2.em2",
            "labels": {"kvsriov.io/node": "node-2", "kvsriov.io/interface": "em2"},
        },
        "spec": {"nodeName": "node-2", "interface": "em2", "numVfs": 4},
    }
    custom.create_cluster_custom_object(GROUP, VERSION, NIC_PLURAL, nic)
    vfs = [{"index": i, "pciAddress": f"0000:03:10.{2 * i + 1}"} for i in range(4)]
    vfs[0] |= {"allocated": True, "owner": "VM default/vm-a"}
    custom.patch_cluster_custom_object_status(
        GROUP, VERSION, NIC_PLURAL, "node-2.em2", {"status": {"vfs": vfs}}
    )
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
    status = [
        {
            "name": "default/l3-vlan100",
            "interface": "net1",
            "device-info": {"type": "pci", "version": "1.1.0", "pci": {"pci-address": VF_PCI}},
        }
    ]
    pod: dict[str, Any] = {
        "metadata": {
            "name": "virt-launcher-vm-a-abcde",
            "labels": {"kubevirt.io": "virt-launcher", "vm.kubevirt.io/name": "vm-a"},
            "annotations": {"k8s.v1.cni.cncf.io/network-status": json.dumps(status)},
        },
        "spec": {"nodeName": "node-2", "containers": [{"name": "compute", "image": "virt-launcher"}]},
    }
    core.create_namespaced_pod("default", pod)
    return custom


def test_nics_shows_each_nic_type_and_the_vf_behind_it(kubeconfig: Path, cluster: Any) -> None:
    done = kubectl(kubeconfig, "kvsriov", "nics", "vm-a")
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()]
    assert rows[0] == ["NAME", "TYPE", "NETWORK", "NODE", "PF", "VF", "PCI"]
    assert rows[1][:2] == ["default", "vNIC"]
    assert rows[2] == ["vf1", "VF", "default/l3-vlan100", "node-2", "em2", "0", VF_PCI]


def test_two_vf_nics_on_one_network_get_their_own_vfs(kubeconfig: Path, cluster: Any) -> None:
    assert (
        kubectl(
            kubeconfig, "kvsriov", "attach-vf", "vm-a", "--network", "l3-vlan100", "--name", "vf2"
        ).returncode
        == 0
    )
    core = kubernetes.client.CoreV1Api(cluster.api_client)
    pod = core.read_namespaced_pod("virt-launcher-vm-a-abcde", "default")
    status = json.loads(pod.metadata.annotations["k8s.v1.cni.cncf.io/network-status"])
    status.append(
        {
            "name": "default/l3-vlan100",
            "interface": "net2",
            "device-info": {"type": "pci", "pci": {"pci-address": "0000:03:10.3"}},
        }
    )
    core.patch_namespaced_pod(
        pod.metadata.name,
        "default",
        {"metadata": {"annotations": {"k8s.v1.cni.cncf.io/network-status": json.dumps(status)}}},
    )
    rows = [line.split() for line in kubectl(kubeconfig, "kvsriov", "nics", "vm-a").stdout.splitlines()]
    assert [(r[0], r[5], r[6]) for r in rows[2:]] == [("vf1", "0", VF_PCI), ("vf2", "1", "0000:03:10.3")]


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
