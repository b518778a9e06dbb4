"""Per-node effectiveness of an SR-IOV L2 network (pure: no I/O).

The L2 network names a PF (`em2`) and selects nodes by label. On each selected
node SR-IOV is effective only where that node's SriovPhysicalNic for the PF is
`Virtualized` (the reference's "SR-IOV not effective" there otherwise: a
condition, not an error). This module folds Node labels and NIC statuses into
`status.nodes`, `status.effective` and the `SriovEffective`/`Ready` conditions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kvsriov.api.conditions import Condition, L2ConditionType, L2Reason, set_condition
from kvsriov.api.l2 import L2NodesStatus, NotSlicedNode, SriovL2Network, SriovL2NetworkStatus
from kvsriov.api.naming import resource_name
from kvsriov_operator.views import NicView


def selects(node_selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Equality-based selection, as a Service or Deployment selector; empty selects every node."""
    return all(labels.get(key) == value for key, value in node_selector.items())


def selected_nodes(l2: SriovL2Network, nodes: Mapping[str, Mapping[str, str]]) -> list[str]:
    return sorted(name for name, labels in nodes.items() if selects(l2.spec.node_selector, labels))


def node_verdict(node: str, interface: str, nic: NicView | None) -> NotSlicedNode | None:
    """None when SR-IOV is effective on `node`, else why not (reason + what to do)."""
    if nic is None:
        return NotSlicedNode(
            node=node,
            reason="NoSuchNic",
            message=f"no SriovPhysicalNic for {interface} on {node}; check the interface name "
            "and that the node agent runs there",
        )
    if nic.state == "Missing":
        return NotSlicedNode(
            node=node,
            reason="NicMissing",
            message=f"{interface} on {node} is no longer present (driver unloaded or NIC removed)",
        )
    if nic.virtualization == "NotVirtualizable":
        return NotSlicedNode(
            node=node,
            reason="NotVirtualizable",
            message=f"{interface} on {node} has no SR-IOV capability (or it is disabled in firmware)",
        )
    if nic.virtualization != "Virtualized":
        return NotSlicedNode(
            node=node,
            reason="NotSliced",
            message=f"{interface} on {node} has no VFs; set spec.numVfs on its SriovPhysicalNic",
        )
    return None


def fold_nodes(
    l2: SriovL2Network, nodes: Mapping[str, Mapping[str, str]], nics: Iterable[NicView]
) -> L2NodesStatus:
    interface = l2.spec.physical_interface
    by_node = {nic.node: nic for nic in nics if nic.interface == interface}
    sliced: list[str] = []
    not_sliced: list[NotSlicedNode] = []
    for node in selected_nodes(l2, nodes):
        verdict = node_verdict(node, interface, by_node.get(node))
        if verdict is None:
            sliced.append(node)
        else:
            not_sliced.append(verdict)
    return L2NodesStatus(sliced=sliced, not_sliced=not_sliced)


def effectiveness(enabled: bool, folded: L2NodesStatus) -> tuple[bool, L2Reason, str]:
    """The SriovEffective condition: True only when every selected node is sliced."""
    n_sliced = len(folded.sliced)
    n_selected = n_sliced + len(folded.not_sliced)
    counts = f"{n_sliced}/{n_selected} selected nodes"
    if not enabled:
        return False, L2Reason.SRIOV_DISABLED, "spec.sriov.enabled is false; set it to true to use VF NICs"
    if n_selected == 0:
        return False, L2Reason.NO_NODES_SELECTED, "spec.nodeSelector matches no node; label nodes or widen it"
    if n_sliced == n_selected:
        return True, L2Reason.EFFECTIVE, f"SR-IOV effective on {counts}"
    missing = ", ".join(f"{n.node} ({n.reason})" for n in folded.not_sliced)
    reason = L2Reason.PARTIALLY_EFFECTIVE if n_sliced else L2Reason.NOT_EFFECTIVE
    return False, reason, f"SR-IOV effective on {counts}; not on {missing}"


def l2_status(
    l2: SriovL2Network,
    nodes: Mapping[str, Mapping[str, str]],
    nics: Iterable[NicView],
    now: str | None = None,
) -> SriovL2NetworkStatus:
    """The whole operator-owned status of an L2 network, from its spec, the Nodes and the NICs."""
    folded = fold_nodes(l2, nodes, nics)
    generation = l2.metadata.generation
    effective, reason, message = effectiveness(l2.spec.sriov.enabled, folded)
    old = list(l2.status.conditions) if l2.status else []
    conditions: list[Condition] = set_condition(
        old,
        L2ConditionType.SRIOV_EFFECTIVE,
        "True" if effective else "False",
        reason,
        message,
        observed_generation=generation,
        now=now,
    )
    conditions = set_condition(
        conditions,
        L2ConditionType.READY,
        "True",
        L2Reason.RECONCILED,
        "spec accepted; see SriovEffective for per-node slicing",
        observed_generation=generation,
        now=now,
    )
    n_selected = len(folded.sliced) + len(folded.not_sliced)
    return SriovL2NetworkStatus(
        nodes=folded,
        effective=f"{len(folded.sliced)}/{n_selected}",
        resource_name=resource_name(l2.spec.physical_interface),
        observed_generation=generation,
        conditions=conditions,
    )
