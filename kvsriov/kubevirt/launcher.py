"""What kvsriov reads of KubeVirt's virt-launcher pods, and the VF requests it adds to them.

Pure functions over the pod and VMI objects as dicts, shared by the operator (the launcher-pod
webhook, the VM conditions), `kubectl kvsriov` and the node agent's in-use messages.
The conventions are KubeVirt's (kubevirt/kubevirt, read at v1.7.0 and v1.9.0):

* A launcher pod carries the label `kubevirt.io: virt-launcher` and the label
  `kubevirt.io/created-by: <VMI uid>`; its controller ownerReference is the
  VirtualMachineInstance; `kubevirt.io/domain` is an annotation (the VMI's name), and the
  label `vm.kubevirt.io/name` is the VMI's sanitized host name, wrong when spec.hostname is
  set (pkg/virt-controller/services/template.go).
* A launcher pod is named by `generateName: virt-launcher-<VMI name>-`
  (pkg/virt-controller/services/template.go); the API server cuts a generateName to 58
  characters and appends 5 random lowercase alphanumerics (k8s.io/apiserver
  pkg/storage/names/generate.go, v0.34), so a 63-character name may hold a VMI name cut short.
* The VM's own process runs in the container named `compute`; the VF requests go there
  (pkg/virt-controller/services/template.go, pkg/virt-controller/services/resourcerenderer.go).
* The Multus networks are the pod annotation `k8s.v1.cni.cncf.io/networks`, a JSON list of
  network selection elements {name, namespace, interface, mac?} (pkg/network/multus).
* Each secondary network's pod interface is `pod` + the first 11 hex digits of the sha256 of
  the VMI network's name (pkg/network/namescheme, since v1.0; before, `net1`, `net2`, ...).
* The pod the VM runs in now is the one of VMI status.activePods (pod uid -> node) on the
  VMI's status.nodeName: during and after a migration the VMI has two launcher pods.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from kvsriov import kubevirt

Obj = Mapping[str, Any]

LABEL_APP: Final = "kubevirt.io"
APP_VIRT_LAUNCHER: Final = "virt-launcher"
LABEL_CREATED_BY: Final = "kubevirt.io/created-by"
ANNOTATION_DOMAIN: Final = "kubevirt.io/domain"
COMPUTE_CONTAINER: Final = "compute"
NETWORKS_ANNOTATION: Final = "k8s.v1.cni.cncf.io/networks"
NETWORK_STATUS_ANNOTATION: Final = "k8s.v1.cni.cncf.io/network-status"
VMI_KIND: Final = "VirtualMachineInstance"
_POD_IFACE_HASH_LEN: Final = 11
_ORDINAL_IFACE: Final = re.compile(r"net\d+")
_LAUNCHER_NAME: Final = re.compile(r"virt-launcher-(?P<vmi>[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)-[a-z0-9]{5}")
#: A generated name this long may have had its base (and so the VMI name) cut (see the module).
_GENERATED_NAME_MAX: Final = 63


@dataclass(frozen=True)
class NetworkSelection:
    """One Multus network a pod asks for (a NetworkSelectionElement of the networks annotation)."""

    namespace: str
    name: str
    interface: str | None = None
    mac: str | None = None

    @property
    def qualified(self) -> str:
        return f"{self.namespace}/{self.name}"


def is_launcher(pod: Obj) -> bool:
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return labels.get(LABEL_APP) == APP_VIRT_LAUNCHER


def network_selections(pod: Obj, namespace: str | None = None) -> list[NetworkSelection]:
    """The pod's Multus networks, in order; `[]` when it has none or the annotation is unreadable.

    Multus accepts a JSON list or the short form `ns/name@iface, ...` (pkg/k8sclient
    parsePodNetworkAnnotation); KubeVirt writes JSON. A network without a namespace is in the
    pod's (`namespace`, for a pod being admitted whose object may not carry it yet).
    """
    meta = pod.get("metadata") or {}
    raw = ((meta.get("annotations") or {}).get(NETWORKS_ANNOTATION) or "").strip()
    namespace = str(meta.get("namespace") or namespace or "default")
    if not raw:
        return []
    if raw.startswith("["):
        try:
            elements = json.loads(raw)
        except json.JSONDecodeError:
            return []
        return [
            NetworkSelection(
                str(e.get("namespace") or namespace),
                str(e["name"]),
                e.get("interface"),
                e.get("mac"),
            )
            for e in elements
            if isinstance(e, dict) and e.get("name")
        ]
    out = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        ref, _, iface = item.partition("@")
        ns, _, name = ref.rpartition("/")
        out.append(NetworkSelection(ns or namespace, name, iface or None))
    return out


def pod_interface_name(network: str) -> str:
    """KubeVirt's name for the pod interface of the VMI network `network` (pkg/network/namescheme)."""
    return "pod" + hashlib.sha256(network.encode()).hexdigest()[:_POD_IFACE_HASH_LEN]


def interface_names(secondary_networks: Sequence[str], status_interfaces: Iterable[str]) -> dict[str, str]:
    """VMI network name -> its pod interface, as KubeVirt names them (pkg/network/namescheme
    CreateFromNetworkStatuses): hashed, unless the pod's network-status already shows an
    ordinal name (`net1`...), which a VM started by an older KubeVirt keeps; then the n-th
    secondary Multus network (in spec.networks order) is `net<n>`."""
    if any(_ORDINAL_IFACE.fullmatch(name or "") for name in status_interfaces):
        return {network: f"net{n}" for n, network in enumerate(secondary_networks, 1)}
    return {network: pod_interface_name(network) for network in secondary_networks}


def network_status(pod: Obj) -> list[dict[str, Any]]:
    """Multus' network-status entries of the pod (the cluster default first); [] when unreadable."""
    raw = ((pod.get("metadata") or {}).get("annotations") or {}).get(NETWORK_STATUS_ANNOTATION)
    try:
        entries = json.loads(raw) if raw else []
    except json.JSONDecodeError:
        return []
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def pci_by_interface(pod: Obj) -> dict[str, str]:
    """Pod interface -> the PCI address of its device, from network-status `device-info` (what
    the device plugin's device-info file said; KubeVirt >= 1.7 reads the VF from there too)."""
    out = {}
    for entry in network_status(pod):
        pci = ((entry.get("device-info") or {}).get("pci") or {}).get("pci-address")
        if pci and entry.get("interface"):
            out[str(entry["interface"])] = str(pci)
    return out


def nic_pci_addresses(vm: Obj, pod: Obj | None) -> dict[str, str]:
    """VM (or VMI) NIC name -> the PCI address of its VF, from the launcher pod's network-status.

    Each NIC is paired with its entry by KubeVirt's pod interface name for it, never by order:
    Multus lists networks as it attached them, and two NICs on one network look alike.
    """
    if pod is None:
        return {}
    pci = pci_by_interface(pod)
    status_interfaces = [str(e.get("interface") or "") for e in network_status(pod)]
    names = interface_names(kubevirt.secondary_networks(vm), status_interfaces)
    return {nic: pci[iface] for nic, iface in names.items() if iface in pci}


def vmi_name_of(pod: Obj) -> str | None:
    """The VMI a launcher pod runs: its controller ownerReference (not a label: see the module)."""
    for owner in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if owner.get("kind") == VMI_KIND and owner.get("controller"):
            return str(owner.get("name"))
    return None


def vmi_name_of_pod_name(name: str) -> str | None:
    """The VMI a pod named `name` would run by KubeVirt's launcher naming; None when the name is not
    a launcher's or may hold a VMI name cut short (63 characters: the generator's maximum).

    From the name alone, as the kubelet's PodResources API reports it: what the node agent can
    know of a pod without reading pod objects. A pod not made by KubeVirt may carry such a name.
    """
    found = _LAUNCHER_NAME.fullmatch(name)
    if found is None or len(name) >= _GENERATED_NAME_MAX:
        return None
    return found.group("vmi")


def vmi_uid_of(pod: Obj) -> str | None:
    """The VMI's uid, from the `kubevirt.io/created-by` label (for a pod whose owner was stripped)."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    uid = labels.get(LABEL_CREATED_BY)
    return str(uid) if uid else None


def active_pod(vmi: Obj, pods: Iterable[Obj]) -> Obj | None:
    """The launcher pod the VM runs in now: in status.activePods, on the VMI's node.

    A migration leaves the source and target pods side by side (both in activePods, each with
    its node); the one on status.nodeName is where the guest is. Without activePods (an older
    status), a pod of this VMI on that node, else the only pod of this VMI.
    """
    status = vmi.get("status") or {}
    node = status.get("nodeName")
    active: Mapping[str, str] = status.get("activePods") or {}
    uid = (vmi.get("metadata") or {}).get("uid")
    mine = [
        p
        for p in pods
        if vmi_name_of(p) == (vmi.get("metadata") or {}).get("name") or (uid and vmi_uid_of(p) == uid)
    ]
    if active:
        candidates = [p for p in mine if (p.get("metadata") or {}).get("uid") in active]
        on_node = [p for p in candidates if active.get(p["metadata"]["uid"]) == node]
        chosen = on_node or candidates
        return chosen[0] if chosen else None
    on_node = [p for p in mine if (p.get("spec") or {}).get("nodeName") == node]
    if on_node:
        return on_node[0]
    return mine[0] if len(mine) == 1 else None


# --- VF requests --------------------------------------------------------------------------------


def wanted_requests(selections: Iterable[NetworkSelection], resource_of: Mapping[str, str]) -> dict[str, int]:
    """Resource name -> how many devices the pod needs: one per selected network that has one.

    `resource_of` maps `ns/name` of a NAD to its `k8s.v1.cni.cncf.io/resourceName`; a network
    not in it needs no device (a vNIC, or a NAD of someone else's).
    """
    counts: dict[str, int] = {}
    for selection in selections:
        resource = resource_of.get(selection.qualified)
        if resource:
            counts[resource] = counts.get(resource, 0) + 1
    return counts


def _count(value: Any) -> int:
    """An extended resource quantity is a whole number ("2"); anything else counts as none."""
    try:
        return int(str(value))
    except ValueError:
        return 0


def missing_requests(pod: Obj, wanted: Mapping[str, int]) -> dict[str, int]:
    """What the compute container must ask for beyond what it already asks (never twice).

    KubeVirt (gate ExternalNetResourceInjection off) or network-resources-injector may have
    added them already: a resource whose request and limit both reach the wanted count is
    left alone; otherwise both are set to the count.
    """
    container = compute_container(pod)
    if container is None:
        return {}
    resources = container.get("resources") or {}
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    return {
        name: count
        for name, count in wanted.items()
        if _count(requests.get(name, 0)) < count or _count(limits.get(name, 0)) < count
    }


def compute_container(pod: Obj) -> Obj | None:
    containers = (pod.get("spec") or {}).get("containers") or []
    return next((c for c in containers if c.get("name") == COMPUTE_CONTAINER), None)


def add_requests(pod: MutableMapping[str, Any], missing: Mapping[str, int]) -> None:
    """Set request = limit = count for each missing resource on the compute container, in place.

    An extended resource must have its limit equal to its request (the API server refuses
    otherwise), so both are written.
    """
    for container in (pod.get("spec") or {}).get("containers") or []:
        if container.get("name") != COMPUTE_CONTAINER:
            continue
        resources = container.setdefault("resources", {})
        for key in ("requests", "limits"):
            table = resources.get(key) or {}
            resources[key] = table | {name: str(count) for name, count in missing.items()}
