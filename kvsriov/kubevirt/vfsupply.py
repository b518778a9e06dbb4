"""No VF free: how a VM waiting for a VF is told, and how a VM about to start is warned.

Pure functions over KubeVirt's objects and the VF counts the node agents report
(SriovPhysicalNic status: numVfs, vfsAvailable).

When a launcher pod asks for more VFs than any node has free, kube-scheduler leaves it Pending
with PodScheduled=False, reason Unschedulable, and a message naming each short resource as
`Insufficient <resource>` (kubernetes pkg/scheduler/framework/plugins/noderesources/fit.go);
virt-controller copies that condition onto the VMI (pkg/virt-controller/watch/vmi, the pod's
PodScheduled condition) and the VM shows ErrorUnschedulable. What the scheduler cannot say is
where VFs are: kvsriov adds the VfAvailable condition with, per node that has the PF, how many
VFs are free of how many.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from kvsriov.api.constants import RESOURCE_PREFIX

CONDITION: Final = "VfAvailable"
REASON_NO_VF_FREE: Final = "NoVfFree"
_INSUFFICIENT = re.compile(r"Insufficient ([A-Za-z0-9][A-Za-z0-9./_-]*[A-Za-z0-9])")

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class NodeVfs:
    """One node's VFs of one PF name: free (healthy, not allocated) of total (sliced)."""

    node: str
    free: int
    total: int


def short_resources(vmi: Obj) -> list[str]:
    """Our resources the scheduler found insufficient for the VMI's launcher pod, in its words."""
    for condition in (vmi.get("status") or {}).get("conditions") or []:
        if (
            condition.get("type") == "PodScheduled"
            and condition.get("status") == "False"
            and condition.get("reason") == "Unschedulable"
        ):
            found = _INSUFFICIENT.findall(str(condition.get("message") or ""))
            return sorted({r for r in found if r.startswith(f"{RESOURCE_PREFIX}/")})
    return []


def where(nodes: Iterable[NodeVfs]) -> str:
    """`node-1: 0 of 32 free, node-2: 1 of 32 free` (or that no node has the PF sliced)."""
    listed = sorted(nodes, key=lambda n: n.node)
    if not listed:
        return "no node has this PF sliced"
    return ", ".join(f"{n.node}: {n.free} of {n.total} free" for n in listed)


def waiting_message(resource: str, wanted: int, nodes: Iterable[NodeVfs]) -> str:
    """The VfAvailable=False message: what the VM waits for, where VFs are, what to do."""
    return (
        f"the VM's launcher pod asks for {wanted} VF(s) of {resource} and no node has that many free "
        f"({where(nodes)}); it starts when VFs are freed (stop a VM that holds them) or added "
        f"(raise spec.numVfs of a SriovPhysicalNic)"
    )


def will_run(vm: Obj) -> bool:
    """A VM that runs (or starts) after this write: runStrategy Always/RerunOnFailure/Once, or
    the older spec.running: true (KubeVirt api/core/v1 types.go VirtualMachineRunStrategy)."""
    spec = vm.get("spec") or {}
    strategy = spec.get("runStrategy")
    if strategy is not None:
        return strategy in ("Always", "RerunOnFailure", "Once")
    return bool(spec.get("running"))


def shortfall_warnings(wanted: Mapping[str, int], supply: Mapping[str, list[NodeVfs]]) -> list[str]:
    """Warnings for a VM that asks for more VFs of a resource than the cluster has free.

    Cluster-wide free VFs, not per node: the sum is an upper bound, so a warning is certain to
    be right, while a VM that fits the sum may still wait when no single node has enough.
    """
    out = []
    for resource, count in sorted(wanted.items()):
        nodes = supply.get(resource, [])
        free = sum(n.free for n in nodes)
        if free < count:
            out.append(
                f"this VM asks for {count} VF(s) of {resource} and {free} are free in the cluster "
                f"({where(nodes)}): it will wait for a free VF when it starts"
            )
    return out
