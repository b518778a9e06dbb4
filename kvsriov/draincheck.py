"""`kvsriov doctor --cluster --drain NODE`: which VMs on NODE would hold up its drain, and why.

Read-only, before `kubectl drain NODE`: each running VM on the node with VF NICs, judged by the
rules the operator applies when the drain's evacuation asks to migrate it
(kvsriov/kubevirt/migration.py; operator admission.py): under vmMigration Refuse with an
eviction strategy that moves the VM, the drain waits until the VM is stopped; under
UnplugReplug it waits when no other node has a free VF for it; with evictionStrategy None the
drain stops the VM (its runStrategy decides whether it starts elsewhere).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kvsriov import kubevirt
from kvsriov.api.constants import GROUP, VERSION
from kvsriov.api.kinds import NIC_PLURAL
from kvsriov.kubevirt import migration, vfsupply
from kvsriov_agent.doctor import Finding
from kvsriov_operator import admission, vmfacts
from kvsriov_operator.views import NicCounts


@dataclass(frozen=True)
class VmOnNode:
    """What the drain check needs of one VMI: its networks' policies and the VFs it asks for."""

    vmi: Mapping[str, Any]
    policies: Mapping[str, tuple[str, str]]
    wanted: Mapping[str, int]


def drain_findings(
    node: str,
    vms: Iterable[VmOnNode],
    cluster_strategy: str | None,
    supply: Mapping[str, list[vfsupply.NodeVfs]],
) -> list[Finding]:
    out = []
    for vm in vms:
        meta = vm.vmi.get("metadata") or {}
        name = f"{meta.get('namespace') or 'default'}/{meta.get('name')}"
        check = f"drain of {node}: {name}"
        strategy = migration.eviction_strategy(kubevirt.vmi_spec(vm.vmi), cluster_strategy)
        if not strategy.moves_vm:
            out.append(
                Finding(
                    None,
                    check,
                    f"evictionStrategy {strategy.value} ({strategy.source}): the drain stops the VM and "
                    "its runStrategy decides whether it starts again elsewhere",
                )
            )
            continue
        waits = admission.drain_warnings(vm.vmi, vm.policies, cluster_strategy)
        if waits:
            refusing = admission.on_refuse_networks(
                kubevirt.vf_nics(vm.vmi), str(meta.get("namespace") or "default"), vm.policies
            )
            networks = ", ".join(sorted({l3 for _, l3 in refusing}))
            out.append(
                Finding(
                    False,
                    check,
                    waits[0],
                    f"before the drain: virtctl stop {meta.get('name')}, or set spec.vmMigration: "
                    f"UnplugReplug on SriovL3Network {networks}",
                )
            )
            continue
        refusal = migration.no_target_refusal(name, node, vm.wanted, supply) if vm.wanted else None
        if refusal:
            out.append(Finding(False, check, refusal, "free or slice VFs on another node before the drain"))
        else:
            out.append(Finding(True, check, "migrates: another node has a free VF for each of its VF NICs"))
    if not out:
        out.append(Finding(True, f"drain of {node}", "no running VM with VF NICs on this node"))
    return out


def read_vms(api: Any, node: str) -> list[VmOnNode]:
    """The VMIs running on `node` that have VF NICs, with what the rules read of each."""
    import kubernetes

    custom = kubernetes.client.CustomObjectsApi(api)
    vmis = custom.list_cluster_custom_object("kubevirt.io", "v1", "virtualmachineinstances")["items"]
    out = []
    for vmi in vmis:
        if (vmi.get("status") or {}).get("nodeName") != node or not kubevirt.vf_nics(vmi):
            continue
        out.append(VmOnNode(vmi, vmfacts.migration_policies(custom, vmi), vmfacts.wanted_vfs(custom, vmi)))
    return out


def read_supply(api: Any) -> dict[str, list[vfsupply.NodeVfs]]:
    import kubernetes

    nics = kubernetes.client.CustomObjectsApi(api).list_cluster_custom_object(GROUP, VERSION, NIC_PLURAL)
    return vmfacts.node_vfs(NicCounts.from_body(n) for n in nics["items"])


def verdict(node: str, found: list[Finding]) -> str:
    blocking = [f.check.split(": ", 1)[1] for f in found if f.passed is False]
    if not blocking:
        return f"the drain of {node} does not wait for kvsriov"
    return f"the drain of {node} would wait for {len(blocking)} VM(s): {', '.join(blocking)}"
