"""The operator's own NIC/Node/L2/L3 cache (cache.py): its views and whom a change wakes."""

from __future__ import annotations

from typing import Any

from kvsriov_operator.cache import ClusterCache, L2Interest


def nic(name: str, node: str, interface: str, virtualization: str = "Virtualized") -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"nodeName": node, "interface": interface},
        "status": {"virtualization": virtualization},
    }


def l3(name: str, l2: str, cidr: str, namespaces: list[str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"l2Network": l2, "ipam": {"cidr": cidr}}
    if namespaces:
        spec["namespaces"] = namespaces
    return {"metadata": {"name": name, "creationTimestamp": "2026-01-01T00:00:00Z"}, "spec": spec}


def synced_cache() -> tuple[ClusterCache, list[tuple[str, str]]]:
    cache = ClusterCache()
    pokes: list[tuple[str, str]] = []
    cache._poke = lambda kind, name: pokes.append((kind, name))
    cache._relisted("nics", [nic("n1.em2", "n1", "em2"), nic("n1.em1", "n1", "em1")], cache._apply_nic)
    cache._relisted("nodes", [{"metadata": {"name": "n1", "labels": {"a": "b"}}}], cache._apply_node)
    l2 = {"metadata": {"name": "net", "generation": 1}, "spec": {"physicalInterface": "em2", "vlan": 10}}
    cache._relisted("l2", [l2], cache._apply_l2)
    cache._relisted(
        "l3", [l3("x", "net", "10.0.0.0/24"), l3("y", "net", "10.0.1.0/24", ["ns"])], cache._apply_l3
    )
    cache.l2["net"] = L2Interest("em2", {"a": "b"}, ["n1"])
    return cache, pokes


def test_views_after_listing() -> None:
    cache, pokes = synced_cache()
    assert cache.synced.is_set() and pokes == []
    assert [v.node for v in cache.nics_on("em2")] == ["n1"]
    assert cache.node_labels() == {"n1": {"a": "b"}}
    assert cache.l2_body("net") == {
        "metadata": {"name": "net", "generation": 1},
        "spec": {"physicalInterface": "em2", "vlan": 10},
    }
    assert sorted(ref.name for ref in cache.l3_on("net")) == ["x", "y"]
    assert cache.l3_in_namespace("default") == ["x"] and cache.l3_in_namespace("ns") == ["y"]


def test_nic_change_wakes_the_l2_networks_on_its_interface_only() -> None:
    cache, pokes = synced_cache()
    cache._event("MODIFIED", nic("n1.em1", "n1", "em1", "NotVirtualized"), cache._apply_nic)
    assert pokes == []
    cache._event("MODIFIED", nic("n1.em2", "n1", "em2", "NotVirtualized"), cache._apply_nic)
    assert pokes == [("l2", "net")]
    assert cache.nics_on("em2")[0].virtualization == "NotVirtualized"
    cache._event("DELETED", nic("n1.em2", "n1", "em2"), cache._apply_nic)
    assert pokes[-1] == ("l2", "net") and cache.nics_on("em2") == []


def test_node_label_change_wakes_when_the_selection_changes() -> None:
    cache, pokes = synced_cache()
    cache._event("MODIFIED", {"metadata": {"name": "n1", "labels": {"a": "b", "c": "d"}}}, cache._apply_node)
    assert pokes == []  # still selected and listed
    cache._event("MODIFIED", {"metadata": {"name": "n1", "labels": {}}}, cache._apply_node)
    assert pokes == [("l2", "net")]


def test_l2_spec_change_wakes_its_l3_networks() -> None:
    cache, pokes = synced_cache()
    l2 = {"metadata": {"name": "net", "generation": 2}, "spec": {"physicalInterface": "em2", "vlan": 11}}
    cache._event("MODIFIED", l2, cache._apply_l2)
    assert sorted(pokes) == [("l3", "x"), ("l3", "y")]


def test_l3_ipam_change_wakes_its_siblings_not_a_status_change() -> None:
    cache, pokes = synced_cache()
    cache._event("MODIFIED", l3("x", "net", "10.0.0.0/24") | {"status": {"ready": 1}}, cache._apply_l3)
    assert pokes == []
    cache._event("MODIFIED", l3("x", "net", "10.0.2.0/24"), cache._apply_l3)
    assert pokes == [("l3", "y")]
    cache._event("DELETED", l3("x", "net", "10.0.2.0/24"), cache._apply_l3)
    assert pokes[-1] == ("l3", "y") and [ref.name for ref in cache.l3_on("net")] == ["y"]
