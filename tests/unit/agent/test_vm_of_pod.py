"""The agent names the VM behind a pod from the pod's name alone (KubeVirt's launcher naming), as the
kubelet's PodResources API reports it: it reads no pod objects, so it needs no right to read pods."""

from __future__ import annotations

from kvsriov_agent.podresources.vms import vm_of_pod


def test_a_launcher_pods_name_names_its_vm() -> None:
    assert vm_of_pod("vms", "virt-launcher-db-1-x7k2p") == "VM vms/db-1"
    assert vm_of_pod("vms", "virt-launcher-a.b-c-9zq4w") == "VM vms/a.b-c"


def test_other_pods_and_cut_names_are_named_as_pods() -> None:
    assert vm_of_pod("web", "nginx-1") == "pod web/nginx-1"
    assert vm_of_pod("web", "virt-launcher-x") == "pod web/virt-launcher-x"  # no generated suffix
    # 63 characters: the API server cut generateName `virt-launcher-<VMI name>-` to 58, so the VMI
    # name in it may be short of the real one.
    cut = "virt-launcher-" + "v" * 44 + "x7k2p"
    assert len(cut) == 63 and vm_of_pod("vms", cut) == f"pod vms/{cut}"
    assert vm_of_pod("vms", "virt-launcher-" + "v" * 42 + "-x7k2p") == "VM vms/" + "v" * 42
