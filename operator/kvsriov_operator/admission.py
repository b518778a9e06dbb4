"""What the admission webhooks refuse (pure: objects in, field-named refusals out).

Two layers, in the order a user should fix them:

1. The model's rules: the object is parsed with its `kvsriov.api` model, so the
   webhook refuses exactly what the model refuses (Vxlan, vlan vs type, ...),
   with the same messages (`kvsriov.api.errors.field_errors`).
2. The cross-object rules, which no CRD schema can express: the L2 network an
   L3 network names exists; SR-IOV on an L3 network needs it on its L2 network;
   an L3 network's ranges overlap no other L3 network on the same L2 network;
   a PF's numVfs fits its totalVfs; of a bond over several PFs only one is sliced;
   a VM with a VF NIC is not migrated (DESIGN §4).

The webhook handlers (handlers/webhooks.py) read the other objects and call these.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from kvsriov import kubevirt
from kvsriov.api import nicrules
from kvsriov.api.errors import FieldError, field_errors
from kvsriov.api.ipam import Ipam
from kvsriov.api.l2 import SriovL2Network
from kvsriov.api.l3 import SriovL3Network
from kvsriov.api.nic import SriovPhysicalNic
from kvsriov.kubevirt import migration, vfsupply
from kvsriov_operator import rules
from kvsriov_operator.views import L3Ref


def model_refusals(model: type[BaseModel], body: Mapping[str, Any]) -> list[FieldError]:
    """The model's own rules, each naming the field (`spec.vlan`, ...) and the fix."""
    try:
        model.model_validate(dict(body))
    except ValidationError as exc:
        return field_errors(exc)
    return []


def spec_changed(operation: str, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    """Only a CREATE or a spec change is judged: kopf's own metadata/finalizer patches and a
    user's label edit pass, so an object admitted under older rules never gets stuck."""
    return operation == "CREATE" or old is None or (old.get("spec") or {}) != (new.get("spec") or {})


# --- SriovL3Network -------------------------------------------------------------------------------


def overlapping(mine: Ipam, others: Mapping[str, Ipam]) -> set[str]:
    return {
        name for name, ipam in others.items() if any(r.overlaps(o) for r in mine.ranges for o in ipam.ranges)
    }


def l3_refusals(
    body: Mapping[str, Any],
    l2_body: Mapping[str, Any] | None,
    siblings: Iterable[Mapping[str, Any]],
    old: Mapping[str, Any] | None = None,
) -> list[FieldError]:
    """Everything refused about an L3 network; `siblings` are the other L3 networks on its L2.

    On an update, a clash that the old spec already had is not this change's fault and is
    left to the conditions; only a clash the change introduces is refused.
    """
    refusals = model_refusals(SriovL3Network, body)
    if refusals:
        return refusals
    l3 = SriovL3Network.model_validate(dict(body))
    if l2_body is None:
        return [
            FieldError(
                "spec.l2Network",
                f"SriovL2Network {l3.spec.l2_network} does not exist; create it first "
                "or name an existing one",
            )
        ]
    l2 = SriovL2Network.model_validate(dict(l2_body))
    others = rules.held_ipams(
        L3Ref.from_body(s) for s in siblings if s["metadata"]["name"] != l3.metadata.name
    )
    if old is not None:
        try:
            for name in overlapping(Ipam.model_validate((old.get("spec") or {}).get("ipam")), others):
                del others[name]
        except ValidationError:
            pass
    return rules.l3_refusals(l3.spec, l2.spec, others)


# --- SriovPhysicalNic -----------------------------------------------------------------------------


def _status(body: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return (body or {}).get("status") or {}


def num_vfs_refusals(num_vfs: int, status: Mapping[str, Any]) -> list[FieldError]:
    """numVfs within 0..status.totalVfs, once the node agent has reported the NIC."""
    if not status:
        return []
    message = nicrules.num_vfs_refusal(num_vfs, int(status.get("totalVfs") or 0))
    return [FieldError(nicrules.FIELD, message)] if message else []


def bond_refusals(
    name: str, num_vfs: int, status: Mapping[str, Any], same_node: Iterable[Mapping[str, Any]]
) -> list[FieldError]:
    """Of a bond over several PFs only one may be sliced (DESIGN §4): name the sliced sibling."""
    peers = (
        nicrules.BondPeer(
            name=other["metadata"]["name"],
            interface=(other.get("spec") or {}).get("interface", other["metadata"]["name"]),
            master=(_status(other).get("bond") or {}).get("master"),
            vfs=max(
                int((other.get("spec") or {}).get("numVfs") or 0), int(_status(other).get("numVfs") or 0)
            ),
        )
        for other in same_node
    )
    message = nicrules.bond_refusal(name, (status.get("bond") or {}).get("master"), num_vfs, peers)
    return [FieldError(nicrules.FIELD, message)] if message else []


def nic_refusals(
    body: Mapping[str, Any], same_node: Iterable[Mapping[str, Any]], old: Mapping[str, Any] | None = None
) -> list[FieldError]:
    """Everything refused about a NIC; `same_node` are the NICs of its node (itself may be among them)."""
    refusals = model_refusals(SriovPhysicalNic, body)
    if refusals:
        return refusals
    num_vfs = int((body.get("spec") or {}).get("numVfs") or 0)
    status = _status(body) or _status(old)
    return num_vfs_refusals(num_vfs, status) + bond_refusals(
        body["metadata"]["name"], num_vfs, status, same_node
    )


def on_refuse_networks(
    nics: list[kubevirt.VmNic], namespace: str, policies: Mapping[str, tuple[str, str]]
) -> list[tuple[kubevirt.VmNic, str]]:
    """The NICs whose network (`ns/nad`) belongs to an L3 network with vmMigration Refuse, each
    with that network's name; a NAD that is not ours is not in `policies`: not our call."""
    out = []
    for nic in nics:
        l3, policy = policies.get(kubevirt.qualified(nic.network, namespace), ("", ""))
        if policy == "Refuse":
            out.append((nic, l3))
    return out


def migration_refusals(
    vmi: Mapping[str, Any] | None, policies: Mapping[str, tuple[str, str]], vmim: Mapping[str, Any]
) -> list[FieldError]:
    """DESIGN §4: a running VM with a VF NIC on a network whose spec.vmMigration is Refuse (the
    reference rule) does not migrate; under UnplugReplug KubeVirt unplugs the VF and the target
    node gives a new one. `policies`: the VM's networks (`ns/nad`) -> (L3 network, vmMigration).
    """
    if vmi is None:
        return []  # KubeVirt refuses a migration of a VMI that does not exist, in its own words
    namespace = str(vmi["metadata"].get("namespace") or "default")
    refusing = on_refuse_networks(kubevirt.vf_nics(vmi), namespace, policies)
    if not refusing:
        return []
    name = f"{namespace}/{vmi['metadata']['name']}"
    nics = ", ".join(f"{nic.name} on {nic.network}" for nic, _ in refusing)
    networks = ", ".join(sorted({l3 for _, l3 in refusing}))
    return [
        FieldError(
            "spec.vmiName",
            f"VirtualMachineInstance {name} has VF NICs ({nics}) on SriovL3Network {networks} with "
            f"vmMigration Refuse, asked by {migration.initiator(vmim).words}: stop the VM (virtctl stop), "
            f"or set spec.vmMigration: UnplugReplug on SriovL3Network {networks}",
        )
    ]


def drain_warnings(
    obj: Mapping[str, Any], policies: Mapping[str, tuple[str, str]], cluster_strategy: str | None
) -> list[str]:
    """A VM (or VMI) whose node's drains would wait for it: VF NICs on a Refuse network and an
    eviction strategy that moves the VM instead of stopping it (kvsriov/kubevirt/migration.py)."""
    namespace = str(obj["metadata"].get("namespace") or "default")
    refusing = on_refuse_networks(kubevirt.vf_nics(obj), namespace, policies)
    strategy = migration.eviction_strategy(kubevirt.vmi_spec(obj), cluster_strategy)
    if not refusing or not strategy.moves_vm:
        return []
    name = f"{namespace}/{obj['metadata']['name']}"
    return [migration.drain_would_wait(name, strategy, [l3 for _, l3 in refusing])]


def replug_refusals(
    vmi: Mapping[str, Any], wanted: Mapping[str, int], supply: Mapping[str, list[vfsupply.NodeVfs]]
) -> list[FieldError]:
    """UnplugReplug: a migration whose target could give the VM no VF is refused before it
    starts, with the counts (the target pod would stay Pending and the migration time out)."""
    if not wanted:
        return []
    namespace = str(vmi["metadata"].get("namespace") or "default")
    source = str((vmi.get("status") or {}).get("nodeName") or "")
    message = migration.no_target_refusal(f"{namespace}/{vmi['metadata']['name']}", source, wanted, supply)
    return [FieldError("spec.vmiName", message)] if message else []


def nic_type_refusals(
    old_vm: Mapping[str, Any] | None, vm: Mapping[str, Any], running: bool
) -> list[FieldError]:
    """DESIGN §1 step 4: a NIC switches between VF and vNIC only while its VM is stopped (the
    reference rule; a running guest would lose or gain a device under it)."""
    if old_vm is None or not running:
        return []
    changed = kubevirt.type_changes(old_vm, vm)
    if not changed:
        return []
    name = f"{vm['metadata'].get('namespace')}/{vm['metadata']['name']}"
    return [
        FieldError(
            "spec.template.spec.domain.devices.interfaces",
            f"VirtualMachine {name} is running: NIC type of {', '.join(changed)} can change only "
            "while it is stopped; stop it (virtctl stop), switch, start it",
        )
    ]


def hotplug_refusals(
    old_vm: Mapping[str, Any] | None,
    vm: Mapping[str, Any],
    policies: Mapping[str, tuple[str, str]],
    running: bool,
) -> list[FieldError]:
    """A VF NIC added by hand to a running VM on a Refuse network: refused as `attach-vf` does."""
    if old_vm is None or not running:
        return []
    namespace = str(vm["metadata"].get("namespace") or "default")
    name = f"{namespace}/{vm['metadata']['name']}"
    return [
        FieldError("spec.template.spec.domain.devices.interfaces", kubevirt.hotplug_refusal(name, l3))
        for _, l3 in on_refuse_networks(kubevirt.added_vf_nics(old_vm, vm), namespace, policies)
    ]
