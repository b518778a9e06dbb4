"""KubeVirt stand-ins: the objects virt-controller and Multus make, shaped as theirs are.

No KubeVirt runs here (its Go modules are not served to us), so the sandbox, the demo and the
tests create what it would create, from these builders only:

* `kubevirt_cr`: the KubeVirt CR (kubevirt/kubevirt api/core/v1 types.go KubeVirtSpec,
  KubeVirtConfiguration, DeveloperConfiguration: featureGates, disabledFeatureGates;
  evictionStrategy; status.observedKubeVirtVersion).
* `launcher_pod`: the virt-launcher pod of a VMI (pkg/virt-controller/services/template.go
  renderLaunchManifest): labels `kubevirt.io: virt-launcher` and `kubevirt.io/created-by:
  <VMI uid>`, annotation `kubevirt.io/domain: <VMI name>`, the VMI as controller
  ownerReference, the Multus networks annotation as a JSON list of network selection
  elements with KubeVirt's pod interface names (pkg/network/multus, pkg/network/namescheme)
  and, for an SR-IOV interface with a MAC, that MAC; containers `compute` (the VM) and
  the others it adds. The VF requests are on compute only when `kubevirt_adds_requests`:
  virt-controller with gate ExternalNetResourceInjection off.
* `network_status`: Multus' `k8s.v1.cni.cncf.io/network-status` after a pod's ADDs
  (multus-cni pkg/netutils, NPWG network-status): the cluster default network first
  (`default: true`, its interface eth0), then one entry per secondary network with name
  `ns/name`, interface, ips, mac, dns and, for a device-plugin device, `device-info`.
* `vmim`: a VirtualMachineInstanceMigration as each initiator makes it: `virtctl migrate`
  (pkg/virtctl/vm/migrate.go: generateName kubevirt-migrate-vm-), the evacuation controller
  (pkg/virt-controller/watch/drain/evacuation: kubevirt-evacuation-, annotation
  kubevirt.io/evacuationMigration with the node), the workload updater
  (pkg/virt-controller/watch/workload-updater: kubevirt-workload-update-, annotation
  kubevirt.io/workloadUpdateMigration).
* `migrated_status`: the VMI's status once a migration completed (api/core/v1 types.go
  VirtualMachineInstanceMigrationState; virt-handler and virt-controller fill it): the target
  node, migrationState with both pods and nodes, activePods. The demo and the tests then give
  the target launcher pod its own VF, as the kubelet and Multus do on the target node.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kvsriov.kubevirt import launcher, migration

KUBEVIRT_NAMESPACE = "kubevirt"
KUBEVIRT_NAME = "kubevirt"


def kubevirt_cr(
    version: str = "v1.9.0",
    feature_gates: Sequence[str] = (),
    disabled_feature_gates: Sequence[str] = (),
    eviction_strategy: str | None = None,
) -> dict[str, Any]:
    """The KubeVirt CR as an admin applies it, and its status as virt-operator reports it
    (the status goes through the status subresource: `status_of` below)."""
    dev: dict[str, Any] = {}
    if feature_gates:
        dev["featureGates"] = list(feature_gates)
    if disabled_feature_gates:
        dev["disabledFeatureGates"] = list(disabled_feature_gates)
    configuration: dict[str, Any] = {"developerConfiguration": dev}
    if eviction_strategy:
        configuration["evictionStrategy"] = eviction_strategy
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "KubeVirt",
        "metadata": {"name": KUBEVIRT_NAME, "namespace": KUBEVIRT_NAMESPACE},
        "spec": {"configuration": configuration},
        "status": {
            "phase": "Deployed",
            "observedKubeVirtVersion": version,
            "targetKubeVirtVersion": version,
        },
    }


@dataclass(frozen=True)
class LauncherNic:
    """One VMI interface on a Multus network: `network` is the VMI network's name."""

    network: str
    nad: str  # `ns/name` or `name`
    sriov: bool = True
    mac: str | None = None


def launcher_pod(
    vmi: Mapping[str, Any],
    nics: Sequence[LauncherNic],
    resource_of: Mapping[str, str] | None = None,
    kubevirt_adds_requests: bool = False,
) -> dict[str, Any]:
    """The launcher pod virt-controller creates for `vmi` (its metadata: name, namespace, uid).

    `resource_of` (`ns/name` -> resourceName) is what virt-controller reads from the NADs when
    it adds the requests itself (`kubevirt_adds_requests`).
    """
    meta = vmi["metadata"]
    namespace, name, uid = meta["namespace"], meta["name"], meta["uid"]
    selections = []
    for nic in nics:
        ns, _, nad = nic.nad.rpartition("/")
        element: dict[str, Any] = {
            "name": nad,
            "namespace": ns or namespace,
            "interface": launcher.pod_interface_name(nic.network),
        }
        if nic.mac:
            element["mac"] = nic.mac
        selections.append(element)
    resources: dict[str, Any] = {"requests": {"cpu": "100m", "memory": "1Gi"}, "limits": {}}
    if kubevirt_adds_requests and resource_of:
        for nic in nics:
            ns, _, nad = nic.nad.rpartition("/")
            resource = resource_of.get(f"{ns or namespace}/{nad}")
            if resource:
                for key in ("requests", "limits"):
                    table = resources[key]
                    table[resource] = str(int(table.get(resource, "0")) + 1)
    annotations = {launcher.ANNOTATION_DOMAIN: name}
    if selections:
        annotations[launcher.NETWORKS_ANNOTATION] = json.dumps(selections)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": f"virt-launcher-{name}-",
            "namespace": namespace,
            "labels": {
                launcher.LABEL_APP: launcher.APP_VIRT_LAUNCHER,
                launcher.LABEL_CREATED_BY: uid,
                "vm.kubevirt.io/name": name,
            },
            "annotations": annotations,
            "ownerReferences": [
                {
                    "apiVersion": "kubevirt.io/v1",
                    "kind": launcher.VMI_KIND,
                    "name": name,
                    "uid": uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "automountServiceAccountToken": False,
            "containers": [
                {
                    "name": launcher.COMPUTE_CONTAINER,
                    "image": "quay.io/kubevirt/virt-launcher",
                    "resources": resources,
                },
                {"name": "guest-console-log", "image": "quay.io/kubevirt/virt-launcher"},
            ],
        },
    }


def vmi(namespace: str, name: str, node: str | None = None) -> dict[str, Any]:
    """A VirtualMachineInstance of VM `name` (and, once scheduled, its node). Its uid is made up
    here; an API server replaces it on create, so build launcher pods from the stored object."""
    out: dict[str, Any] = {
        "apiVersion": "kubevirt.io/v1",
        "kind": launcher.VMI_KIND,
        "metadata": {"namespace": namespace, "name": name, "uid": str(uuid.uuid4())},
        "spec": {},
    }
    if node:
        out["status"] = {"nodeName": node}
    return out


def network_status(
    pod: Mapping[str, Any], attached: Sequence[Mapping[str, Any]], pod_ip: str = "10.244.1.17"
) -> list[dict[str, Any]]:
    """What Multus writes once the pod's networks are attached: the cluster default first.

    `attached`: one mapping per selected network, in order, with `ips`, `mac` and, for a VF,
    `pci` (the device plugin's device-info).
    """
    entries: list[dict[str, Any]] = [
        {"name": "k8s-pod-network", "interface": "eth0", "ips": [pod_ip], "default": True, "dns": {}}
    ]
    for selection, result in zip(launcher.network_selections(pod), attached, strict=True):
        entry: dict[str, Any] = {
            "name": selection.qualified,
            "interface": selection.interface,
            "ips": list(result.get("ips") or []),
            "mac": result.get("mac", ""),
            "dns": {},
        }
        if result.get("pci"):
            entry["device-info"] = {"type": "pci", "version": "1.1.0", "pci": {"pci-address": result["pci"]}}
        entries.append(entry)
    return entries


def vm(namespace: str, name: str, vf_networks: Sequence[str], run_strategy: str = "Always") -> dict[str, Any]:
    """A VirtualMachine with the pod network and one `sriov: {}` interface per entry of
    `vf_networks` (a NAD as `ns/name` or `name`), named vf1, vf2, ... (api/core/v1 types.go)."""
    interfaces: list[dict[str, Any]] = [{"name": "default", "masquerade": {}}]
    networks: list[dict[str, Any]] = [{"name": "default", "pod": {}}]
    for n, nad in enumerate(vf_networks, 1):
        interfaces.append({"name": f"vf{n}", "sriov": {}})
        networks.append({"name": f"vf{n}", "multus": {"networkName": nad}})
    template = {"spec": {"domain": {"devices": {"interfaces": interfaces}}, "networks": networks}}
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"namespace": namespace, "name": name},
        "spec": {"runStrategy": run_strategy, "template": template},
    }


def vmi_of(vm_body: Mapping[str, Any]) -> dict[str, Any]:
    """The VMI virt-controller makes of a stored VM: its template's spec, the VM as controller owner."""
    meta = vm_body["metadata"]
    out = vmi(meta["namespace"], meta["name"])
    out["spec"] = dict(vm_body["spec"]["template"]["spec"])
    out["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "kubevirt.io/v1",
            "kind": "VirtualMachine",
            "name": meta["name"],
            "uid": meta.get("uid"),
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    return out


def unschedulable(resources: Sequence[str], nodes: int, now: str) -> dict[str, Any]:
    """The PodScheduled condition kube-scheduler leaves on a launcher pod that fits no node, as
    virt-controller copies it onto the VMI: the scheduler's message names each short resource
    `Insufficient <name>` (pkg/scheduler/framework/plugins/noderesources/fit.go; the
    `0/N nodes are available:` summary from pkg/scheduler/framework/types.go FitError). The
    wording is what the real kube-scheduler v1.34.4 wrote in tests/sandbox/test_real_scheduler.py."""
    reasons = ", ".join(f"{nodes} Insufficient {r}" for r in resources)
    return {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": f"0/{nodes} nodes are available: {reasons}. no new claims to deallocate, preemption: "
        f"0/{nodes} nodes are available: {nodes} Preemption is not helpful for scheduling.",
        "lastTransitionTime": now,
        "lastProbeTime": None,
    }


#: (generateName, annotation) of each initiator's VMIM.
_VMIM_SHAPE = {
    "user": ("kubevirt-migrate-vm-", None),
    "evacuation": ("kubevirt-evacuation-", migration.EVACUATION_ANNOTATION),
    "workload-update": ("kubevirt-workload-update-", migration.WORKLOAD_UPDATE_ANNOTATION),
}


def vmim(namespace: str, vmi_name: str, initiator: str = "user", node: str = "") -> dict[str, Any]:
    """The VMIM `initiator` (user, evacuation, workload-update) creates for `vmi_name`; `node`:
    the node a drain evacuates (the evacuation controller's annotation value)."""
    generate_name, annotation = _VMIM_SHAPE[initiator]
    meta: dict[str, Any] = {"generateName": generate_name, "namespace": namespace}
    if annotation:
        meta["annotations"] = {annotation: node if initiator == "evacuation" else ""}
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstanceMigration",
        "metadata": meta,
        "spec": {"vmiName": vmi_name},
    }


def migrated_status(
    vmim_uid: str, source: Mapping[str, Any], target: Mapping[str, Any], now: str
) -> dict[str, Any]:
    """The VMI status after the migration `vmim_uid` from launcher pod `source` to `target`
    (stored pods: name, uid, spec.nodeName) completed."""
    source_node = source["spec"]["nodeName"]
    target_node = target["spec"]["nodeName"]
    return {
        "nodeName": target_node,
        "activePods": {target["metadata"]["uid"]: target_node},
        "migrationState": {
            "migrationUid": vmim_uid,
            "sourceNode": source_node,
            "targetNode": target_node,
            "sourcePod": source["metadata"]["name"],
            "targetPod": target["metadata"]["name"],
            "startTimestamp": now,
            "endTimestamp": now,
            "completed": True,
            "failed": False,
            "mode": "PreCopy",
        },
    }
