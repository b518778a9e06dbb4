"""The pure migration rules: whose eviction strategy applies, and where a VF can come back."""

from __future__ import annotations

from kvsriov.kubevirt import migration
from kvsriov.kubevirt.vfsupply import NodeVfs


def test_the_vmis_own_eviction_strategy_wins_over_the_clusters() -> None:
    assert migration.eviction_strategy({"evictionStrategy": "None"}, "LiveMigrate").moves_vm is False
    cluster = migration.eviction_strategy({}, "LiveMigrateIfPossible")
    assert cluster.moves_vm and cluster.source == "the KubeVirt CR's spec.configuration.evictionStrategy"
    assert migration.eviction_strategy({}, None) == migration.EvictionStrategy("None", "KubeVirt's default")
    assert migration.eviction_strategy({"evictionStrategy": "External"}, None).moves_vm


def test_one_target_node_must_hold_every_resource_the_vm_asks_for() -> None:
    wanted = {"kvsriov.io/em1": 1, "kvsriov.io/em2": 2}
    split = {  # node-2 has em1 free, node-3 em2: no single node can take the VM
        "kvsriov.io/em1": [NodeVfs("node-1", 4, 4), NodeVfs("node-2", 1, 4), NodeVfs("node-3", 0, 4)],
        "kvsriov.io/em2": [NodeVfs("node-1", 4, 4), NodeVfs("node-2", 1, 4), NodeVfs("node-3", 2, 4)],
    }
    message = migration.no_target_refusal("default/vm", "node-1", wanted, split)
    assert message is not None
    assert "no node other than node-1 has 1 free VF(s) of kvsriov.io/em1 (node-2: 1 of 4 free" in message
    together = {r: [*nodes, NodeVfs("node-4", 2, 4)] for r, nodes in split.items()}
    assert migration.no_target_refusal("default/vm", "node-1", wanted, together) is None


def test_the_initiator_is_read_from_kubevirts_annotations() -> None:
    evacuation = {"metadata": {"annotations": {migration.EVACUATION_ANNOTATION: "node-7"}}}
    assert migration.initiator(evacuation) == migration.Initiator("evacuation", "node-7")
    update = {"metadata": {"annotations": {migration.WORKLOAD_UPDATE_ANNOTATION: ""}}}
    assert migration.initiator(update).kind == "workload-update"
    assert migration.initiator({"metadata": {}}).words == "a user"
