"""Live migration of VMs with VF NICs: who asked, what would wait, where a VF can come back.

Pure functions over KubeVirt's objects, shared by the operator (the VMIM webhook, the VMI's
VfMigratable condition, the check after a migration) and `kvsriov doctor --cluster --drain`.

KubeVirt's facts they stand on (kubevirt/kubevirt, v1.7 to v1.9):

* The effective eviction strategy is the VMI's spec.evictionStrategy, else the KubeVirt CR's
  spec.configuration.evictionStrategy, else none (pkg/util/migrations/migrations.go
  VMIEvictionStrategy). With LiveMigrate, LiveMigrateIfPossible (an SR-IOV VMI counts as
  migratable) or External, virt-api answers a drain's eviction with 429 and the VM is moved,
  not stopped: by the evacuation controller's VMIM (pkg/virt-controller/watch/drain/evacuation,
  annotation `kubevirt.io/evacuationMigration: <node>`), or, for External, by whoever handles
  it. Under vmMigration Refuse that VMIM is refused, so the drain waits until the VM stops.
* The workload updater (pkg/virt-controller/watch/workload-updater) migrates VMIs whose
  launcher is outdated after a KubeVirt update, annotation `kubevirt.io/workloadUpdateMigration`;
  a VF NIC added to a running VM is plugged in through a migration too
  (pkg/network/migration/evaluator.go: MigrationRequired).
* A migrated VMI's status.migrationState names the migration (migrationUid), the source and
  target node and pod, and whether it completed or failed (api/core/v1 types.go
  VirtualMachineInstanceMigrationState).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from kvsriov.kubevirt.vfsupply import NodeVfs, where

Obj = Mapping[str, Any]

EVACUATION_ANNOTATION: Final = "kubevirt.io/evacuationMigration"
WORKLOAD_UPDATE_ANNOTATION: Final = "kubevirt.io/workloadUpdateMigration"
#: Eviction strategies under which a drain moves the VM instead of stopping it.
MOVING_STRATEGIES: Final = ("LiveMigrate", "LiveMigrateIfPossible", "External")

#: The VMI condition saying what of KubeVirt's waits on kvsriov's migration refusal.
CONDITION: Final = "VfMigratable"
REASON_DRAIN_WOULD_WAIT: Final = "DrainWouldWait"
REASON_DRAIN_WAITING: Final = "DrainWaiting"
REASON_UPDATE_WAITING: Final = "UpdateWaiting"
#: Reasons written when KubeVirt's own migration was refused (the webhook): they hold until the
#: VM stops, is migrated, or its networks stop refusing.
WAITING_REASONS: Final = (REASON_DRAIN_WAITING, REASON_UPDATE_WAITING)
#: Events after an UnplugReplug migration.
REASON_VF_REPLUGGED: Final = "VfReplugged"
REASON_VF_NOT_REPLUGGED: Final = "VfNotReplugged"


@dataclass(frozen=True)
class Initiator:
    """Who asked for a migration, read from the VMIM's annotations."""

    kind: Literal["user", "evacuation", "workload-update"]
    node: str = ""

    @property
    def words(self) -> str:
        if self.kind == "evacuation":
            return f"KubeVirt's evacuation for a drain of node {self.node or 'its node'}"
        if self.kind == "workload-update":
            return "KubeVirt's workload updater (a KubeVirt update, or a NIC hotplug that needs a migration)"
        return "a user"


def initiator(vmim: Obj) -> Initiator:
    annotations = (vmim.get("metadata") or {}).get("annotations") or {}
    if EVACUATION_ANNOTATION in annotations:
        return Initiator("evacuation", str(annotations.get(EVACUATION_ANNOTATION) or ""))
    if WORKLOAD_UPDATE_ANNOTATION in annotations:
        return Initiator("workload-update")
    return Initiator("user")


@dataclass(frozen=True)
class EvictionStrategy:
    """The strategy KubeVirt applies to a VM's VMI, and where it comes from (for the message)."""

    value: str
    source: str

    @property
    def moves_vm(self) -> bool:
        return self.value in MOVING_STRATEGIES


def eviction_strategy(vmi_spec: Obj, cluster_default: str | None) -> EvictionStrategy:
    """`vmi_spec`: a VMI's spec or a VM's template spec (kvsriov.kubevirt.vmi_spec)."""
    own = vmi_spec.get("evictionStrategy")
    if own:
        return EvictionStrategy(str(own), "its spec.evictionStrategy")
    if cluster_default:
        return EvictionStrategy(cluster_default, "the KubeVirt CR's spec.configuration.evictionStrategy")
    return EvictionStrategy("None", "KubeVirt's default")


def drain_would_wait(vm: str, strategy: EvictionStrategy, networks: Iterable[str]) -> str:
    """The admission warning and the DrainWouldWait message: a drain of the VM's node would wait
    for it, and the two ways out."""
    listed = ", ".join(sorted(set(networks)))
    return (
        f"VirtualMachine {vm} has evictionStrategy {strategy.value} ({strategy.source}) and VF NICs on "
        f"SriovL3Network {listed} with vmMigration Refuse: a drain of its node will wait until the VM "
        f"is stopped; set spec.template.spec.evictionStrategy: None on the VM (a drain then stops it), "
        f"or spec.vmMigration: UnplugReplug on SriovL3Network {listed}"
    )


def waiting(asked_by: Initiator, vm: str, refusal: str) -> tuple[str, str]:
    """(reason, message) of the condition and Event when KubeVirt's own migration was refused:
    what of KubeVirt's waits for the VM, then the refusal (which says what to do)."""
    if asked_by.kind == "evacuation":
        return REASON_DRAIN_WAITING, (
            f"a drain of node {asked_by.node or 'its node'} is waiting for VirtualMachine {vm}, whose "
            f"migration kvsriov refused: {refusal}"
        )
    return REASON_UPDATE_WAITING, (
        f"KubeVirt's update of the launcher of VirtualMachine {vm} (or a NIC hotplug) is waiting for "
        f"a migration kvsriov refused: {refusal}"
    )


def no_target_refusal(
    vm: str, source_node: str, wanted: Mapping[str, int], supply: Mapping[str, list[NodeVfs]]
) -> str | None:
    """Why an UnplugReplug migration cannot find a VF elsewhere, or None when a node can take it.

    One node other than the source must have enough free VFs of every resource the VM asks for:
    the target launcher pod asks for them all, and the scheduler puts it on one node.
    """
    others = {r: [n for n in supply.get(r, []) if n.node != source_node] for r in wanted}
    free = {(n.node, r): n.free for r, nodes in others.items() for n in nodes}
    nodes = {node for node, _ in free}
    if any(all(free.get((node, r), 0) >= count for r, count in wanted.items()) for node in nodes):
        return None
    asks = ", ".join(f"{count} free VF(s) of {r} ({where(others[r])})" for r, count in sorted(wanted.items()))
    elsewhere = f"no node other than {source_node}" if source_node else "no node"
    return (
        f"VirtualMachine {vm} would lose its VF NICs: {elsewhere} has {asks}; free VFs on another "
        f"node (stop a VM there) or slice more (spec.numVfs of a SriovPhysicalNic), then migrate"
    )


@dataclass(frozen=True)
class VfPlacement:
    """One VF NIC's device: the VMI interface name, its node and PCI address ('' unknown)."""

    interface: str
    node: str
    pci: str


def replug_report(
    vm: str, before: Iterable[VfPlacement], after: Iterable[VfPlacement]
) -> tuple[str, str, str]:
    """(Event type, reason, message) after an UnplugReplug migration: each VF NIC's old and new
    PCI address, or a warning naming the NICs that did not come back."""
    found = {p.interface: p for p in after if p.pci}
    old = {p.interface: p for p in before}
    missing = sorted(name for name in old if name not in found)
    moved = "; ".join(
        f"{name}: {old[name].pci or 'unknown'} on {old[name].node or 'unknown'} -> {found[name].pci} on "
        f"{found[name].node}"
        for name in sorted(old)
        if name in found
    )
    if missing:
        return (
            "Warning",
            REASON_VF_NOT_REPLUGGED,
            (
                f"VirtualMachine {vm} migrated but its VF NICs {', '.join(missing)} have no VF on the target "
                f"node (its launcher pod's network-status has no PCI device for them)"
                + (f"; the others came back: {moved}" if moved else "")
                + "; restart the VM (virtctl restart) to get a VF on its node, or see kubectl kvsriov nics"
            ),
        )
    return "Normal", REASON_VF_REPLUGGED, f"VirtualMachine {vm} migrated with its VF NICs: {moved}"
