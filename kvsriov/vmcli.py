"""`kubectl kvsriov` (a kubectl plugin: the executable kubectl-kvsriov) and `kvsriov vm`: VM helpers.

  nics VM        a VM's NICs: VF or vNIC, and for a VF its node, PF, VF index and PCI address
  attach-vf VM   add a VF NIC on an SR-IOV L3 network to a VM's spec
  set-nic-type VM NIC vf|vnic   switch a stopped VM's NIC between VF and vNIC

Where a VF is: the VM's active virt-launcher pod (the VMI's status.activePods on its node, found
by the `kubevirt.io/created-by` label: kvsriov/kubevirt/launcher.py), its
`k8s.v1.cni.cncf.io/network-status` entry for the NIC's pod interface (KubeVirt's name for it,
not the order), whose `device-info.pci.pci-address` Multus copied from the device plugin's
device-information file (device-info-spec), then the SriovPhysicalNic that lists that VF on the
pod's node.
The cluster comes from $KUBECONFIG (or ~/.kube/config, or the pod's service account), as for kubectl.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from kvsriov import kubevirt
from kvsriov.api.constants import GROUP, VERSION
from kvsriov.api.kinds import L3_PLURAL, NIC_PLURAL
from kvsriov.api.naming import VNIC_NAD_SUFFIX
from kvsriov.kubevirt import launcher, vfsupply


class Refusal(Exception):
    """What the user asked cannot be done; the message says why and what to do."""


class Cluster:
    """The few reads and one patch the helpers make, through the official client."""

    def __init__(self) -> None:
        import kubernetes

        try:
            kubernetes.config.load_kube_config()
        except kubernetes.config.ConfigException:
            kubernetes.config.load_incluster_config()
        self.custom = kubernetes.client.CustomObjectsApi()
        self.core = kubernetes.client.CoreV1Api()
        self.not_found = kubernetes.client.ApiException

    def vm(self, namespace: str, name: str) -> dict[str, Any]:
        try:
            return dict(
                self.custom.get_namespaced_custom_object(
                    "kubevirt.io", "v1", namespace, "virtualmachines", name
                )
            )
        except self.not_found as exc:
            if exc.status == 404:
                raise Refusal(f"VirtualMachine {namespace}/{name} not found") from None
            raise

    def vmi(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The running instance of VM `name` (same name and namespace), None when it is stopped."""
        try:
            return dict(
                self.custom.get_namespaced_custom_object(
                    "kubevirt.io", "v1", namespace, "virtualmachineinstances", name
                )
            )
        except self.not_found as exc:
            if exc.status == 404:
                return None
            raise

    def launcher_pod(self, vmi: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The pod the VM runs in now (launcher.active_pod), among the VMI's launcher pods."""
        meta = vmi["metadata"]
        selector = f"{launcher.LABEL_CREATED_BY}={meta.get('uid')}"
        listed = self.core.list_namespaced_pod(meta["namespace"], label_selector=selector).items
        pods = [self.core.api_client.sanitize_for_serialization(p) for p in listed]
        return launcher.active_pod(vmi, pods)

    def l3(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(self.custom.get_cluster_custom_object(GROUP, VERSION, L3_PLURAL, name))
        except self.not_found as exc:
            if exc.status == 404:
                return None
            raise

    def nics(self) -> list[dict[str, Any]]:
        return list(self.custom.list_cluster_custom_object(GROUP, VERSION, NIC_PLURAL)["items"])

    def patch_vm(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        """A merge patch carrying the VM's resourceVersion: a VM changed meanwhile is a 409, not lost."""
        self.custom.patch_namespaced_custom_object(
            "kubevirt.io", "v1", namespace, "virtualmachines", name, patch
        )


# -- nics ----------------------------------------------------------------------------------------


def vf_locations(nics: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], tuple[str, int]]:
    """(node, VF PCI address) -> (PF interface, VF index), from every SriovPhysicalNic status."""
    out = {}
    for nic in nics:
        status = nic.get("status") or {}
        node = (nic.get("spec") or {}).get("nodeName", "")
        for vf in status.get("vfs") or []:
            out[(node, vf.get("pciAddress", ""))] = (
                (nic.get("spec") or {}).get("interface", ""),
                vf.get("index"),
            )
    return out


def waiting(vmi: Mapping[str, Any] | None) -> str | None:
    """The VfAvailable=False message of a VM waiting for a VF (the operator's, vfsupply.py)."""
    for condition in ((vmi or {}).get("status") or {}).get("conditions") or []:
        if condition.get("type") == vfsupply.CONDITION and condition.get("status") == "False":
            return str(condition.get("message") or "")
    return None


def nic_rows(cluster: Cluster, namespace: str, name: str) -> tuple[list[list[str]], str | None]:
    """The NIC table, and why the VM waits when it waits for a VF."""
    vm = cluster.vm(namespace, name)
    vmi = cluster.vmi(namespace, name)
    pod = cluster.launcher_pod(vmi) if vmi is not None else None
    node = (pod.get("spec") or {}).get("nodeName") if pod is not None else None
    why = waiting(vmi)
    absent = "(not running)" if vmi is None else "(waiting for a VF)" if why else "(pending)"
    addresses = launcher.nic_pci_addresses(vm, pod)
    where = vf_locations(cluster.nics()) if addresses else {}
    rows = [["NAME", "TYPE", "NETWORK", "NODE", "PF", "VF", "PCI"]]
    for nic in kubevirt.nics(vm):
        if not nic.is_vf:
            rows.append([nic.name, "vNIC", nic.network, node or "-", "-", "-", "-"])
            continue
        network = kubevirt.qualified(nic.network, namespace)
        pci = addresses.get(nic.name)
        pf, index = where.get((node or "", pci or ""), ("-", None))
        rows.append(
            [
                nic.name,
                "VF",
                network,
                node or absent,
                pf,
                "-" if index is None else str(index),
                pci or "-",
            ]
        )
    return rows, why


# -- attach-vf -----------------------------------------------------------------------------------


def attach_vf_patch(
    vm: Mapping[str, Any],
    namespace: str,
    l3: Mapping[str, Any] | None,
    l3_name: str,
    iface: str,
    running: bool = False,
) -> dict[str, Any]:
    """The patch that gives `vm` a VF NIC on `l3`; refused with what to do when it cannot work.

    On a running VM KubeVirt hotplugs a new SR-IOV interface through a live migration
    (pkg/network/migration/evaluator.go: MigrationRequired at once), so the L3 network's
    spec.vmMigration decides: Refuse would refuse that migration, and the VM would be left
    waiting with an unplugged NIC, so attaching is refused up front."""
    if l3 is None:
        raise Refusal(f"SriovL3Network {l3_name} not found (kubectl get {L3_PLURAL})")
    if running and ((l3.get("spec") or {}).get("vmMigration") or "Refuse") == "Refuse":
        raise Refusal(kubevirt.hotplug_refusal(f"{namespace}/{vm['metadata']['name']}", l3_name))
    status = l3.get("status") or {}
    if not status.get("sriovEnabled"):
        raise Refusal(
            f"SR-IOV is off on SriovL3Network {l3_name} (or on its L2 network): a VF NIC needs it on; "
            f"see `kubectl describe sriovl3network {l3_name}`"
        )
    targets = (l3.get("spec") or {}).get("namespaces") or ["default"]
    if namespace not in targets:
        raise Refusal(
            f"SriovL3Network {l3_name} renders its NetworkAttachmentDefinition in {', '.join(targets)}, "
            f"not in {namespace}: add {namespace} to its spec.namespaces"
        )
    existing = kubevirt.nics(vm)
    if any(nic.name == iface for nic in existing):
        raise Refusal(
            f"VirtualMachine {namespace}/{vm['metadata']['name']} already has a NIC named {iface}; use --name"
        )
    spec = kubevirt.vmi_spec(vm)
    interfaces = list(((spec.get("domain") or {}).get("devices") or {}).get("interfaces") or [])
    networks = list(spec.get("networks") or [])
    interfaces.append({"name": iface, "sriov": {}})
    networks.append({"name": iface, "multus": {"networkName": f"{namespace}/{l3_name}"}})
    # Lists are replaced whole by a merge patch: the resourceVersion makes a concurrent edit a 409.
    return {
        "metadata": {"resourceVersion": vm["metadata"].get("resourceVersion")},
        "spec": {
            "template": {"spec": {"domain": {"devices": {"interfaces": interfaces}}, "networks": networks}}
        },
    }


# -- set-nic-type --------------------------------------------------------------------------------


def set_nic_type_patch(
    vm: Mapping[str, Any], namespace: str, nic_name: str, kind: str, running: bool
) -> dict[str, Any]:
    """The patch that makes NIC `nic_name` a VF (`sriov`, the L3 network's NAD) or a vNIC
    (`bridge`, its `-vnic` NAD: same PF, VLAN and IP pool); refused while the VM runs."""
    name = f"{namespace}/{vm['metadata']['name']}"
    if running:
        raise Refusal(
            f"VirtualMachine {name} is running: a NIC's type changes only while it is stopped; "
            f"`virtctl stop {vm['metadata']['name']}`, switch, then start it"
        )
    spec = kubevirt.vmi_spec(vm)
    interfaces = [dict(i) for i in ((spec.get("domain") or {}).get("devices") or {}).get("interfaces") or []]
    networks = [dict(n) for n in spec.get("networks") or []]
    interface = next((i for i in interfaces if i.get("name") == nic_name), None)
    network = next((n for n in networks if n.get("name") == nic_name), None)
    nad = ((network or {}).get("multus") or {}).get("networkName")
    if interface is None or not nad:
        names = ", ".join(nic.name for nic in kubevirt.nics(vm) if nic.secondary) or "none"
        raise Refusal(f"VirtualMachine {name} has no NIC {nic_name} on a Multus network (it has: {names})")
    nad = kubevirt.qualified(str(nad), namespace)
    l3_nad = nad.removesuffix(VNIC_NAD_SUFFIX)
    to_vf = kind == "vf"
    if ("sriov" in interface) == to_vf:
        raise Refusal(f"NIC {nic_name} of VirtualMachine {name} is already a {'VF' if to_vf else 'vNIC'}")
    for binding in ("sriov", "bridge", "masquerade", "macvtap", "passt", "binding"):
        interface.pop(binding, None)
    interface["sriov" if to_vf else "bridge"] = {}
    assert network is not None
    network["multus"] = {**network["multus"], "networkName": l3_nad if to_vf else l3_nad + VNIC_NAD_SUFFIX}
    return {
        "metadata": {"resourceVersion": vm["metadata"].get("resourceVersion")},
        "spec": {
            "template": {"spec": {"domain": {"devices": {"interfaces": interfaces}}, "networks": networks}}
        },
    }


# -- command line --------------------------------------------------------------------------------


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="kvsriov helpers for KubeVirt VMs with VF NICs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    nics = sub.add_parser(
        "nics", help="a VM's NICs: VF or vNIC; for a VF its node, PF, VF index, PCI address"
    )
    nics.add_argument("vm")
    attach = sub.add_parser("attach-vf", help="add a VF NIC on an SR-IOV L3 network to a VM")
    attach.add_argument("vm")
    attach.add_argument("--network", required=True, help="the SriovL3Network")
    attach.add_argument("--name", help="the interface name (default: the L3 network's name)")
    switch = sub.add_parser(
        "set-nic-type", help="switch a stopped VM's NIC between VF and vNIC (same L3 network)"
    )
    switch.add_argument("vm")
    switch.add_argument("nic", help="the interface name")
    switch.add_argument("type", choices=["vf", "vnic"])
    for command in (nics, attach, switch):
        command.add_argument("-n", "--namespace", default="default")
    return parser


def main(argv: list[str] | None = None, prog: str = "kubectl kvsriov") -> int:
    args = build_parser(prog).parse_args(sys.argv[1:] if argv is None else argv)
    try:
        cluster = Cluster()
        if args.command == "nics":
            rows, why = nic_rows(cluster, args.namespace, args.vm)
            print(table(rows))
            if why:
                print(f"\n{args.vm} waits for a VF: {why}")
            return 0
        vm = cluster.vm(args.namespace, args.vm)
        if args.command == "set-nic-type":
            running = cluster.vmi(args.namespace, args.vm) is not None
            cluster.patch_vm(
                args.namespace, args.vm, set_nic_type_patch(vm, args.namespace, args.nic, args.type, running)
            )
            shown = "a VF" if args.type == "vf" else "a vNIC"
            print(
                f"virtualmachine {args.namespace}/{args.vm}: NIC {args.nic} is now {shown}; "
                "it gets it when it starts"
            )
            return 0
        iface = args.name or args.network
        running = cluster.vmi(args.namespace, args.vm) is not None
        patch = attach_vf_patch(vm, args.namespace, cluster.l3(args.network), args.network, iface, running)
        cluster.patch_vm(args.namespace, args.vm, patch)
        when = (
            "it takes effect through a live migration KubeVirt starts for it (with workloadUpdateMethods "
            "LiveMigrate), or when the VM restarts"
            if running
            else "the VM gets it when it starts"
        )
        added = f"VF NIC {iface} on {args.namespace}/{args.network} added"
        print(f"virtualmachine {args.namespace}/{args.vm}: {added}; {when}")
        return 0
    except Refusal as refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return 1
