"""readiness.py: Node labels and NIC statuses folded into an L2 network's status."""

from __future__ import annotations

from typing import Any

from kvsriov.api.l2 import SriovL2Network
from kvsriov_operator.readiness import l2_status
from kvsriov_operator.views import NicView

SEL = {"kvsriov.io/sriov": "true"}
NODES = {"node-1": SEL, "node-2": SEL, "node-3": {"role": "infra"}}
NOW = "2026-01-01T00:00:00Z"


def l2(enabled: bool = True, interface: str = "em2", status: dict[str, Any] | None = None) -> SriovL2Network:
    body: dict[str, Any] = {
        "metadata": {"name": "l2", "generation": 3},
        "spec": {"type": "NoVlan", "physicalInterface": interface, "sriov": {"enabled": enabled},
                 "nodeSelector": SEL},
    }  # fmt: skip
    if status:
        body["status"] = status
    return SriovL2Network.model_validate(body)


def nic(
    node: str, virtualization: str = "Virtualized", interface: str = "em2", state: str | None = None
) -> NicView:
    return NicView(node=node, interface=interface, virtualization=virtualization, state=state)


def cond(status: Any, type_: str) -> Any:
    return next(c for c in status.conditions if c.type == type_)


def test_all_selected_nodes_sliced_is_effective() -> None:
    status = l2_status(l2(), NODES, [nic("node-1"), nic("node-2"), nic("node-3")], now=NOW)
    assert status.nodes.sliced == ["node-1", "node-2"]
    assert status.nodes.not_sliced == []
    assert status.effective == "2/2"
    assert status.resource_name == "kvsriov.io/em2"
    effective = cond(status, "SriovEffective")
    assert (effective.status, effective.reason, effective.observed_generation) == ("True", "Effective", 3)
    assert cond(status, "Ready").status == "True"


def test_each_reason_for_not_sliced() -> None:
    nodes = {f"n{i}": SEL for i in range(4)}
    nics = [
        nic("n1", "NotVirtualizable"),
        nic("n2", "Virtualizable"),
        nic("n3", "Virtualized", state="Missing"),
        nic("n0", interface="em1"),  # another PF: n0 has no em2
    ]
    status = l2_status(l2(), nodes, nics, now=NOW)
    reasons = {n.node: n.reason for n in status.nodes.not_sliced}
    assert reasons == {"n0": "NoSuchNic", "n1": "NotVirtualizable", "n2": "NotSliced", "n3": "NicMissing"}
    assert all(n.message for n in status.nodes.not_sliced)
    effective = cond(status, "SriovEffective")
    assert (effective.status, effective.reason) == ("False", "NotEffective")
    assert "0/4" in effective.message
    assert cond(status, "Ready").status == "True"  # not effective is a condition, not an error


def test_partially_sliced_names_the_missing_nodes() -> None:
    status = l2_status(l2(), NODES, [nic("node-1"), nic("node-2", "Virtualizable")], now=NOW)
    effective = cond(status, "SriovEffective")
    assert (effective.status, effective.reason) == ("False", "PartiallyEffective")
    assert "1/2" in effective.message and "node-2 (NotSliced)" in effective.message
    assert status.effective == "1/2"


def test_sriov_disabled_and_no_nodes() -> None:
    disabled = cond(
        l2_status(l2(enabled=False), NODES, [nic("node-1"), nic("node-2")], now=NOW), "SriovEffective"
    )
    assert (disabled.status, disabled.reason) == ("False", "SriovDisabled")
    empty = l2_status(l2(), {"node-3": {}}, [], now=NOW)
    assert cond(empty, "SriovEffective").reason == "NoNodesSelected"
    assert empty.effective == "0/0"


def test_transition_time_moves_only_on_a_flip() -> None:
    first = l2_status(l2(), NODES, [nic("node-1"), nic("node-2")], now=NOW)
    previous = {"conditions": [c.to_api() for c in first.conditions]}
    same = l2_status(l2(status=previous), NODES, [nic("node-1"), nic("node-2")], now="2026-02-02T00:00:00Z")
    assert cond(same, "SriovEffective").last_transition_time == NOW
    assert same.to_api() == first.to_api()  # unchanged inputs: identical status, so no write
    flipped = l2_status(l2(status=previous), NODES, [nic("node-1")], now="2026-02-02T00:00:00Z")
    assert cond(flipped, "SriovEffective").last_transition_time == "2026-02-02T00:00:00Z"
