"""What kvsriov reads and writes of KubeVirt objects (kubevirt.io/v1): a VM's NICs and their types.

Pure functions over the objects as dicts, shared by the operator's VM rules (a VM with a VF NIC
does not migrate) and the `kubectl kvsriov` VM helpers. KubeVirt's conventions: an interface
with `sriov: {}` is a VF passed through to the guest, bound to the Multus network of the same
name in `spec.networks` (`multus.networkName`, `<namespace>/<NAD>` or `<NAD>`); every other
binding (masquerade, bridge, ...) is a virtual NIC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class VmNic:
    name: str
    is_vf: bool
    #: The Multus network (`ns/nad`), or "(pod network)".
    network: str
    #: On a secondary Multus network (not the pod network, not Multus' default): it has a pod
    #: interface of its own (launcher.interface_names).
    secondary: bool = False


def vmi_spec(obj: Obj) -> Obj:
    """The VMI spec of a VirtualMachineInstance, or of a VirtualMachine's template."""
    spec = obj.get("spec") or {}
    return ((spec.get("template") or {}).get("spec") or {}) if obj.get("kind") == "VirtualMachine" else spec


def nics(obj: Obj) -> list[VmNic]:
    spec = vmi_spec(obj)
    networks = {n.get("name"): n for n in spec.get("networks") or []}
    out = []
    for interface in ((spec.get("domain") or {}).get("devices") or {}).get("interfaces") or []:
        network = networks.get(interface.get("name")) or {}
        multus = network.get("multus") or {}
        name = multus.get("networkName")
        secondary = bool(name) and not multus.get("default")
        out.append(
            VmNic(str(interface.get("name")), "sriov" in interface, name or "(pod network)", secondary)
        )
    return out


def secondary_networks(obj: Obj) -> list[str]:
    """The VMI network names on secondary Multus networks, in spec.networks order (the order
    KubeVirt numbers ordinal pod interfaces in)."""
    spec = vmi_spec(obj)
    return [
        str(n["name"])
        for n in spec.get("networks") or []
        if (n.get("multus") or {}).get("networkName") and not (n.get("multus") or {}).get("default")
    ]


def vf_nics(obj: Obj) -> list[VmNic]:
    return [nic for nic in nics(obj) if nic.is_vf]


def type_changes(old: Obj, new: Obj) -> list[str]:
    """The NICs of both versions whose type (VF or vNIC) differs, as `name (VF -> vNIC)`."""
    before = {nic.name: nic.is_vf for nic in nics(old)}
    shown = {True: "VF", False: "vNIC"}
    return [
        f"{nic.name} ({shown[before[nic.name]]} -> {shown[nic.is_vf]})"
        for nic in nics(new)
        if nic.name in before and before[nic.name] != nic.is_vf
    ]


def added_vf_nics(old: Obj, new: Obj) -> list[VmNic]:
    """The VF NICs `new` has and `old` had not (by interface name)."""
    before = {nic.name for nic in nics(old)}
    return [nic for nic in vf_nics(new) if nic.name not in before]


def hotplug_refusal(vm: str, l3_name: str) -> str:
    """Why a VF NIC is not added to a running VM on a Refuse network (the CLI and the webhook
    say it in the same words): KubeVirt hotplugs it through a live migration
    (pkg/network/migration/evaluator.go: MigrationRequired), which that network refuses."""
    return (
        f"VirtualMachine {vm} is running, and KubeVirt adds a VF NIC to a running VM through a live "
        f"migration, which SriovL3Network {l3_name} refuses (vmMigration Refuse): stop the VM first "
        f"(virtctl stop), or set spec.vmMigration: UnplugReplug on it"
    )


def qualified(network: str, namespace: str) -> str:
    """Multus accepts `nad` for the pod's own namespace; compare networks as `ns/nad`."""
    return network if "/" in network else f"{namespace}/{network}"
