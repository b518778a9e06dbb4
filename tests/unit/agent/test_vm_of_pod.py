"""The agent names the VM behind a launcher pod by KubeVirt's identity, not by the host-name label."""

from __future__ import annotations

from kvsriov.sandbox import kubevirt
from kvsriov.sandbox.kubevirt import LauncherNic
from kvsriov_agent.podresources.vms import vm_of_pod


def test_the_owner_names_the_vm_even_when_the_hostname_label_differs() -> None:
    pod = kubevirt.launcher_pod(kubevirt.vmi("vms", "db-1"), [LauncherNic("vf1", "l3")])
    pod["metadata"]["labels"]["vm.kubevirt.io/name"] = "custom-hostname"  # the VM's spec.hostname
    assert vm_of_pod(pod, "vms", "virt-launcher-db-1-abcde") == "VM vms/db-1"


def test_without_an_owner_the_domain_annotation_names_it_and_other_pods_are_pods() -> None:
    pod = kubevirt.launcher_pod(kubevirt.vmi("vms", "db-1"), [])
    del pod["metadata"]["ownerReferences"]
    assert vm_of_pod(pod, "vms", "x") == "VM vms/db-1"
    assert vm_of_pod({"metadata": {"labels": {"app": "nginx"}}}, "web", "nginx-1") == "pod web/nginx-1"
    assert vm_of_pod(None, "web", "gone") == "pod web/gone"
