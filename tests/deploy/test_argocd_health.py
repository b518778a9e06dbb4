"""The Argo CD health checks (deploy/argocd/argocd-cm.yaml) run in Lua 5.1, as Argo CD's gopher-lua
runs them, against objects whose status is what our agent and operator write.

Statuses are built with the API's own condition setter and reasons, and for L2 networks by the
operator's readiness code, so a renamed reason or condition breaks these tests, not a dashboard.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from kvsriov.api.conditions import (
    ConditionStatus,
    HostConditionType,
    HostReason,
    L3ConditionType,
    L3Reason,
    NicConditionType,
    NicReason,
    set_condition,
)
from kvsriov.api.l2 import SriovL2Network
from kvsriov.argocdgen import GROUP, KINDS, OUTPUT
from kvsriov_operator.readiness import l2_status
from kvsriov_operator.views import NicView

lua51 = pytest.importorskip("lupa.lua51", reason="lupa (the test extra) runs the Lua health checks")

NOW = "2026-11-26T00:00:00Z"
SEL = {"kvsriov.io/sriov": "true"}


def health(kind: str, obj: dict[str, Any]) -> tuple[str, str]:
    """(status, message) that Argo CD would show for `obj`, from the generated ConfigMap's script."""
    data = yaml.safe_load(OUTPUT.read_text())["data"]
    script = data[f"resource.customizations.health.{GROUP}_{kind}"]
    lua = lua51.LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(script)
    return str(result["status"]), str(result["message"])


def conditions(*entries: tuple[str, ConditionStatus, str, str], generation: int = 1) -> list[dict[str, Any]]:
    out: list[Any] = []
    for type_, status, reason, message in entries:
        out = set_condition(out, type_, status, reason, message, observed_generation=generation, now=NOW)
    return [c.to_api() for c in out]


def obj(name: str, status: dict[str, Any] | None, generation: int = 1, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"metadata": {"name": name, "generation": generation}, "spec": spec}
    if status is not None:
        body["status"] = status
    return body


def test_every_kind_has_a_check() -> None:
    assert set(yaml.safe_load(OUTPUT.read_text())["data"]) == {
        f"resource.customizations.health.{GROUP}_{kind}" for kind in KINDS
    }


def test_host_ready_reboot_pending_and_not_ready() -> None:
    ready = conditions(
        (HostConditionType.READY, "True", HostReason.READY, "IOMMU and interrupt remapping ready")
    )
    assert health("SriovHost", obj("node-1", {"conditions": ready})) == (
        "Healthy",
        "HostReady: IOMMU and interrupt remapping ready",
    )
    off = conditions((HostConditionType.READY, "False", HostReason.IOMMU_NOT_READY, "add intel_iommu=on"))
    status, message = health("SriovHost", obj("node-1", {"conditions": off, "rebootRequired": True}))
    assert status == "Suspended" and message.startswith("Reboot the node")
    assert health("SriovHost", obj("node-1", {"conditions": off})) == (
        "Degraded",
        "IOMMUNotReady: add intel_iommu=on",
    )


def test_waiting_for_the_writer_of_status_is_progressing() -> None:
    assert health("SriovHost", obj("node-1", None))[0] == "Progressing"
    ready = conditions((HostConditionType.READY, "True", HostReason.READY, ""), generation=1)
    status, message = health("SriovHost", obj("node-1", {"conditions": ready}, generation=2))
    assert status == "Progressing" and "generation 2" in message and "node-1" in message


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([(NicConditionType.SLICED, "True", NicReason.SLICED, "8 VFs")], "Healthy"),
        ([(NicConditionType.SLICED, "False", NicReason.SLICING, "4 -> 0 -> 8")], "Progressing"),
        (
            [(NicConditionType.SLICED, "False", NicReason.IN_USE, "VF 3 is used by vm-a; set spec.force")],
            "Degraded",
        ),
        ([(NicConditionType.SLICED, "False", NicReason.SLICING_FAILED, "EBUSY")], "Degraded"),
        (
            [
                (NicConditionType.SLICED, "True", NicReason.SLICED, ""),
                (NicConditionType.VFS_LOST, "True", NicReason.VFS_LOST, "PF reset"),
            ],
            "Degraded",
        ),
        (
            [
                (NicConditionType.SLICED, "True", NicReason.SLICED, ""),
                (NicConditionType.PRESENT, "False", NicReason.NIC_MISSING, "gone"),
            ],
            "Degraded",
        ),
    ],
)
def test_nic(entries: list[tuple[str, ConditionStatus, str, str]], expected: str) -> None:
    nic = obj(
        "node-1.em1", {"conditions": conditions(*entries)}, nodeName="node-1", interface="em1", numVfs=8
    )
    status, message = health("SriovPhysicalNic", nic)
    assert status == expected
    assert entries[-1][2] in message  # the reason a user acts on is in the message


def l2_body(nodes: dict[str, dict[str, str]], nics: list[NicView], enabled: bool = True) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "type": "NoVlan",
        "physicalInterface": "em2",
        "sriov": {"enabled": enabled},
        "nodeSelector": SEL,
    }
    l2 = SriovL2Network.model_validate({"metadata": {"name": "l2", "generation": 1}, "spec": spec})
    return obj("l2", l2_status(l2, nodes, nics, now=NOW).to_api(), **spec)


def test_l2_effective_everywhere_or_switched_off_is_healthy() -> None:
    nodes = {"node-1": SEL, "node-2": SEL}
    sliced = [NicView("node-1", "em2", "Virtualized"), NicView("node-2", "em2", "Virtualized")]
    assert health("SriovL2Network", l2_body(nodes, sliced))[0] == "Healthy"
    assert health("SriovL2Network", l2_body(nodes, [], enabled=False))[0] == "Healthy"


def test_l2_missing_vfs_on_a_selected_node_is_degraded_and_names_it() -> None:
    nodes = {"node-1": SEL, "node-2": SEL}
    nics = [NicView("node-1", "em2", "Virtualized"), NicView("node-2", "em2", "Virtualizable")]
    status, message = health("SriovL2Network", l2_body(nodes, nics))
    assert status == "Degraded" and "PartiallyEffective" in message and "node-2" in message


def test_l3_rendered_or_refused() -> None:
    ready = conditions((L3ConditionType.READY, "True", L3Reason.RECONCILED, ""))
    assert health("SriovL3Network", obj("l3", {"conditions": ready})) == ("Healthy", "Reconciled")
    refused = conditions(
        (L3ConditionType.READY, "False", L3Reason.L2_NETWORK_NOT_FOUND, "create SriovL2Network l2 first")
    )
    assert health("SriovL3Network", obj("l3", {"conditions": refused})) == (
        "Degraded",
        "L2NetworkNotFound: create SriovL2Network l2 first",
    )
