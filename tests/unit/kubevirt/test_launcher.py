"""Launcher pods as KubeVirt makes them: networks, identity, the active pod, the VF requests to add."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kvsriov.kubevirt import launcher
from kvsriov.kubevirt.launcher import NetworkSelection

VMI_UID = "5f0a7c36-0c7e-4b5e-9d8e-000000000001"


def pod(
    networks: Any = None,
    *,
    uid: str = "pod-1",
    node: str = "node-1",
    owner: str | None = "vm-a",
    resources: dict[str, Any] | None = None,
) -> dict[str, Any]:
    annotations = {launcher.ANNOTATION_DOMAIN: "vm-a"}
    if networks is not None:
        annotations[launcher.NETWORKS_ANNOTATION] = (
            networks if isinstance(networks, str) else json.dumps(networks)
        )
    meta: dict[str, Any] = {
        "name": f"virt-launcher-vm-a-{uid}",
        "namespace": "vms",
        "uid": uid,
        "labels": {launcher.LABEL_APP: launcher.APP_VIRT_LAUNCHER, launcher.LABEL_CREATED_BY: VMI_UID},
        "annotations": annotations,
    }
    if owner:
        meta["ownerReferences"] = [
            {
                "apiVersion": "kubevirt.io/v1",
                "kind": "VirtualMachineInstance",
                "name": owner,
                "controller": True,
            }
        ]
    containers = [{"name": "compute", "resources": resources or {}}, {"name": "volumecontainerdisk"}]
    return {"metadata": meta, "spec": {"nodeName": node, "containers": containers}}


KUBEVIRT_NETWORKS = [
    {"name": "l3-vlan100", "namespace": "vms", "interface": "pod16477688c0e"},
    {"name": "l3-vlan100", "namespace": "vms", "interface": "podb2a4f7d2b0b", "mac": "02:00:00:00:00:02"},
    {"name": "plain", "namespace": "other", "interface": "pod0d2bd1fa8bc"},
]


def test_network_selections_read_kubevirts_json_and_multus_short_form() -> None:
    assert launcher.network_selections(pod(KUBEVIRT_NETWORKS))[1] == NetworkSelection(
        "vms", "l3-vlan100", "podb2a4f7d2b0b", "02:00:00:00:00:02"
    )
    short = launcher.network_selections(pod("l3-vlan100, other/plain@net2"))
    assert [(s.qualified, s.interface) for s in short] == [("vms/l3-vlan100", None), ("other/plain", "net2")]
    assert launcher.network_selections(pod("[not json")) == []
    assert launcher.network_selections(pod()) == []


def test_pod_interface_name_is_kubevirts_hashed_name() -> None:
    # pkg/network/namescheme: "pod" + sha256(network name) hex, first 11 digits.
    name = launcher.pod_interface_name("vf1")
    assert name.startswith("pod") and len(name) == 14
    assert name == launcher.pod_interface_name("vf1") != launcher.pod_interface_name("vf2")


def test_the_vmi_of_a_pod_is_its_controller_owner_not_a_label() -> None:
    assert launcher.vmi_name_of(pod()) == "vm-a"
    assert launcher.vmi_name_of(pod(owner=None)) is None
    assert launcher.vmi_uid_of(pod(owner=None)) == VMI_UID


def vmi(active: dict[str, str] | None, node: str) -> dict[str, Any]:
    status: dict[str, Any] = {"nodeName": node}
    if active is not None:
        status["activePods"] = active
    return {"metadata": {"name": "vm-a", "namespace": "vms", "uid": VMI_UID}, "status": status}


def test_active_pod_after_a_migration_is_the_one_on_the_vmis_node() -> None:
    source, target = pod(uid="src", node="node-1"), pod(uid="dst", node="node-2")
    migrated = vmi({"src": "node-1", "dst": "node-2"}, "node-2")
    assert launcher.active_pod(migrated, [source, target]) is target
    assert launcher.active_pod(vmi({"src": "node-1"}, "node-1"), [target, source]) is source
    assert launcher.active_pod(vmi(None, "node-2"), [source, target]) is target
    stranger = pod(uid="x", owner="vm-b")
    stranger["metadata"]["labels"][launcher.LABEL_CREATED_BY] = "other-uid"
    assert launcher.active_pod(vmi({"x": "node-1"}, "node-1"), [stranger]) is None


RESOURCES = {"vms/l3-vlan100": "kvsriov.io/em2"}


def test_one_request_per_sriov_network_on_the_compute_container() -> None:
    p = pod(KUBEVIRT_NETWORKS)
    wanted = launcher.wanted_requests(launcher.network_selections(p), RESOURCES)
    assert wanted == {"kvsriov.io/em2": 2}  # two VF NICs on one network, none for the vNIC
    missing = launcher.missing_requests(p, wanted)
    patched = copy.deepcopy(p)
    launcher.add_requests(patched, missing)
    compute = launcher.compute_container(patched)
    assert compute is not None
    assert compute["resources"] == {"requests": {"kvsriov.io/em2": "2"}, "limits": {"kvsriov.io/em2": "2"}}
    assert "resources" not in patched["spec"]["containers"][1]


@pytest.mark.parametrize("existing", ["2", 2])
def test_requests_already_there_are_not_added_twice(existing: Any) -> None:
    there = {"requests": {"kvsriov.io/em2": existing, "cpu": "1"}, "limits": {"kvsriov.io/em2": existing}}
    p = pod(KUBEVIRT_NETWORKS, resources=there)
    assert launcher.missing_requests(p, {"kvsriov.io/em2": 2}) == {}


def test_a_short_request_is_raised_and_other_resources_kept() -> None:
    p = pod(KUBEVIRT_NETWORKS, resources={"requests": {"kvsriov.io/em2": "1", "memory": "1Gi"}})
    missing = launcher.missing_requests(p, {"kvsriov.io/em2": 2})
    launcher.add_requests(p, missing)
    resources = p["spec"]["containers"][0]["resources"]
    assert resources["requests"] == {"kvsriov.io/em2": "2", "memory": "1Gi"}
    assert resources["limits"] == {"kvsriov.io/em2": "2"}
