"""The webhook and the node agent refuse a NIC spec in the same words (kvsriov/api/nicrules.py)."""

from __future__ import annotations

from typing import Any

from kvsriov.api.nic import SriovPhysicalNicStatus
from kvsriov_agent import guards, slicing
from kvsriov_operator.admission import nic_refusals


def nic(interface: str, num_vfs: int, sliced: int = 0, total: int = 63) -> dict[str, Any]:
    """A SriovPhysicalNic of node-1 in bond0 (em1 + em2), as the agent reports it."""
    return {
        "metadata": {"name": f"node-1.{interface}"},
        "spec": {"nodeName": "node-1", "interface": interface, "numVfs": num_vfs},
        "status": {
            "nodeName": "node-1", "interface": interface, "totalVfs": total, "numVfs": sliced,
            "bond": {"master": "bond0", "members": ["em1", "em2"]},
        },
    }  # fmt: skip


def test_the_numvfs_limit_reads_the_same_from_the_webhook_and_the_agent() -> None:
    for asked, total in ((70, 63), (4, 0)):
        webhook = [str(r) for r in nic_refusals(nic("em1", asked, total=total), [])]
        agent = slicing.plan_numvfs(0, asked, total, {}, force=False).refused
        assert webhook == [agent], (asked, total)


def test_the_bond_rule_reads_the_same_from_the_webhook_and_the_agent() -> None:
    em1, em2 = nic("em1", 4, sliced=4), nic("em2", 4)
    webhook = [str(r) for r in nic_refusals(em2, [em1, em2])]
    status = SriovPhysicalNicStatus.model_validate(em2["status"])
    agent = guards.bond_conflict(status, {"node-1.em1": em1, "node-1.em2": em2}, 4)
    assert webhook == [agent]
    assert agent is not None and "bond0" in agent and "em1" in agent
