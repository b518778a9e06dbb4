"""The operator's Prometheus metrics: VFs per PF and node from the NIC statuses, network state, reconciles."""

from __future__ import annotations

import kubernetes
from operator_helpers import Cluster, running_operator
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kvsriov.sandbox.wait import wait_for


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_vf_counts_and_network_state_are_exported(kube_client: kubernetes.client.ApiClient) -> None:
    cluster = Cluster(kube_client)
    for node in ("node-1", "node-2"):
        cluster.node(node, {"kvsriov.io/sriov": "true"})
    cluster.nic("node-1", "em2", num_vfs=8)
    cluster.nic("node-2", "em2", virtualization="Virtualizable", num_vfs=0)
    cluster.l2("l2-em2", "em2", vlan=100)
    cluster.l3("l3-a", "l2-em2")
    with running_operator(kube_client) as clients:
        registry = clients.metrics.registry
        wait_for(
            lambda: (s := samples(registry)).get(("kvsriov_l3_ready", (("network", "l3-a"),))) == 1
            and s.get(("kvsriov_l2_nodes_selected", (("network", "l2-em2"),))) == 2,
            timeout=30, what="l3-a Ready and l2-em2 evaluated, in the metrics",
        )  # fmt: skip
        got = samples(registry)
    pf1, pf2 = (("interface", "em2"), ("node", "node-1")), (("interface", "em2"), ("node", "node-2"))
    assert got[("kvsriov_pf_vfs", pf1)] == 8 and got[("kvsriov_pf_vfs", pf2)] == 0
    assert got[("kvsriov_pf_vfs_supported", pf1)] == 63
    l2 = (("network", "l2-em2"),)
    assert (got[("kvsriov_l2_nodes_effective", l2)], got[("kvsriov_l2_nodes_selected", l2)]) == (1, 2)
    assert got[("kvsriov_operator_reconcile_seconds_count", (("kind", "l3"),))] >= 1
    assert got.get(("kvsriov_operator_reconcile_errors_total", (("kind", "l3"),)), 0) == 0
