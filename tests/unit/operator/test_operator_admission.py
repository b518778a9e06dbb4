"""What the admission webhooks refuse (pure rules; the HTTPS path is in tests/sandbox)."""

from __future__ import annotations

from typing import Any

from kvsriov_operator.admission import l3_refusals, migration_refusals, nic_refusals, spec_changed


def l2(sriov: bool = True) -> dict[str, Any]:
    spec = {"type": "Vlan", "vlan": 100, "physicalInterface": "em2", "sriov": {"enabled": sriov}}
    return {"metadata": {"name": "l2-em2"}, "spec": spec}


def l3(name: str, start: str = "192.168.100.10", end: str = "192.168.100.200", **spec: Any) -> dict[str, Any]:
    ipam = {"cidr": "192.168.100.0/24", "ranges": [{"start": start, "end": end}]}
    return {"metadata": {"name": name}, "spec": {"l2Network": "l2-em2", "ipam": ipam} | spec}


def nic(
    interface: str, num_vfs: int, total: int | None = 63, bond: str | None = None, sliced: int = 0
) -> dict:
    body: dict[str, Any] = {
        "metadata": {"name": f"node-1.{interface}"},
        "spec": {"nodeName": "node-1", "interface": interface, "numVfs": num_vfs},
    }
    if total is not None:
        body["status"] = {"totalVfs": total, "numVfs": sliced}
        if bond:
            body["status"]["bond"] = {"master": bond, "members": ["em1", "em2"]}
    return body


def fields(refusals: list) -> list[str]:
    return [r.field for r in refusals]


def test_model_rules_come_first_and_name_the_field() -> None:
    assert fields(l3_refusals(l3("a", start="192.168.100.200", end="192.168.100.10"), l2(), [])) == [
        "spec.ipam.ranges[0]"
    ]


def test_missing_l2_network() -> None:
    [refusal] = l3_refusals(l3("a"), None, [])
    assert refusal.field == "spec.l2Network" and "l2-em2 does not exist" in refusal.message


def test_sriov_on_over_l2_without_it() -> None:
    assert fields(l3_refusals(l3("a", sriov={"enabled": True}), l2(sriov=False), [])) == [
        "spec.sriov.enabled"
    ]
    assert l3_refusals(l3("a"), l2(sriov=False), []) == []


def test_overlap_with_a_sibling_and_update_grandfathering() -> None:
    first = l3("first")
    assert fields(l3_refusals(l3("second"), l2(), [first])) == ["spec.ipam.ranges[0]"]
    assert l3_refusals(l3("second", "192.168.100.201", "192.168.100.250"), l2(), [first]) == []
    # an update of a network that already overlapped (bypassed the webhook) is not blocked by it
    assert l3_refusals(l3("second", description="x"), l2(), [first], old=l3("second")) == []
    deleting = first | {"metadata": {"name": "first", "deletionTimestamp": "2026-01-01T00:00:00Z"}}
    assert l3_refusals(l3("second"), l2(), [deleting]) == []


def test_num_vfs_within_total_vfs() -> None:
    [refusal] = nic_refusals(nic("em2", 70), [])
    assert str(refusal) == (
        "spec.numVfs: 70 exceeds the 63 VFs this NIC supports (status.totalVfs); use 1..63 or 0 to restore"
    )
    assert nic_refusals(nic("em2", 63), []) == []
    assert nic_refusals(nic("em2", 70, total=None), []) == []  # not reported yet: the agent refuses later
    assert "supports none" in str(nic_refusals(nic("em2", 4, total=0), [])[0])


def test_only_one_pf_of_a_bond_is_sliced() -> None:
    em1 = nic("em1", 8, bond="bond0", sliced=8)
    [refusal] = nic_refusals(nic("em2", 4, bond="bond0"), [em1])
    assert (
        refusal.field == "spec.numVfs"
        and "em1 (SriovPhysicalNic node-1.em1) already has 8 VFs" in refusal.message
    )
    assert nic_refusals(nic("em2", 0, bond="bond0"), [em1]) == []
    assert nic_refusals(nic("em2", 4, bond="bond1"), [em1]) == []
    assert nic_refusals(nic("em2", 4, bond="bond0"), [nic("em1", 0, bond="bond0")]) == []


def test_only_spec_changes_are_judged() -> None:
    assert spec_changed("CREATE", None, {"spec": {}})
    assert not spec_changed(
        "UPDATE", {"spec": {"a": 1}, "metadata": {}}, {"spec": {"a": 1}, "metadata": {"x": 1}}
    )
    assert spec_changed("UPDATE", {"spec": {"a": 1}}, {"spec": {"a": 2}})


def vmi(*interfaces: dict[str, Any]) -> dict[str, Any]:
    networks = [{"name": "default", "pod": {}}, {"name": "vf1", "multus": {"networkName": "vms/l3-vlan100"}}]
    return {
        "metadata": {"name": "vm-a", "namespace": "vms"},
        "spec": {"domain": {"devices": {"interfaces": list(interfaces)}}, "networks": networks},
    }


REFUSE = {"vms/l3-vlan100": ("l3-vlan100", "Refuse")}
UNPLUG = {"vms/l3-vlan100": ("l3-vlan100", "UnplugReplug")}
BY_HAND: dict[str, Any] = {"metadata": {}}
UPDATE = {"metadata": {"annotations": {"kubevirt.io/workloadUpdateMigration": ""}}}


def test_a_vm_with_a_vf_nic_follows_its_networks_migration_policy() -> None:
    with_vf = vmi({"name": "default", "masquerade": {}}, {"name": "vf1", "sriov": {}})
    [refusal] = migration_refusals(with_vf, REFUSE, BY_HAND)
    assert refusal.field == "spec.vmiName"
    assert "vms/vm-a has VF NICs (vf1 on vms/l3-vlan100) on SriovL3Network l3-vlan100" in refusal.message
    assert (
        "asked by a user: stop the VM (virtctl stop), or set spec.vmMigration: UnplugReplug"
        in refusal.message
    )
    [updating] = migration_refusals(with_vf, REFUSE, UPDATE)
    assert "asked by KubeVirt's workload updater" in updating.message
    assert migration_refusals(with_vf, UNPLUG, BY_HAND) == []
    assert migration_refusals(with_vf, {}, BY_HAND) == []  # a NAD not ours: not our call
    assert migration_refusals(vmi({"name": "default", "masquerade": {}}), REFUSE, BY_HAND) == []
    assert migration_refusals(None, REFUSE, BY_HAND) == []  # KubeVirt answers for a VMI that does not exist
