"""PF discovery on the reference host: which netdevs are NICs, and every field of their status."""

from __future__ import annotations

from pathlib import Path

from agent_helpers import make_host

from kvsriov.sandbox.host.netlink import RecordedNetlink
from kvsriov.sandbox.host.tree import HostTree
from kvsriov_agent.discovery import discover_nics
from kvsriov_agent.host.pci_ids import PciIds


def by_name(tree: HostTree, netlink: RecordedNetlink | None = None, pci_ids: Path | None = None) -> dict:
    return {n.interface: n for n in discover_nics(make_host(tree, netlink, pci_ids), "worker-1")}


def test_only_physical_functions_are_nics(ref_tree: HostTree) -> None:
    """lo and bond0 have no device link; a VF has physfn; a virtio netdev is not PCI."""
    ref_tree.vfs("0000:03:00.0", ["0000:03:10.0"], "8086", "10ed", "ixgbevf")
    ref_tree.netdev("em1v0", ref_tree.sys / "devices/pci0000:00/0000:03:10.0")
    virtio = ref_tree.sys / "devices/pci0000:00/0000:00:04.0/virtio1"
    virtio.mkdir(parents=True)
    (ref_tree.sys / "bus/virtio").mkdir(parents=True)
    (virtio / "subsystem").symlink_to("../../../../bus/virtio")
    ref_tree.netdev("ens4", virtio)
    assert list(by_name(ref_tree)) == ["em1", "em2", "em3", "em4"]


def test_82599es_is_virtualizable_with_63_vfs(ref_tree: HostTree) -> None:
    em1 = by_name(ref_tree)["em1"]
    assert (em1.pci_address, em1.vendor_id, em1.device_id) == ("0000:03:00.0", "8086", "10fb")
    assert em1.vendor == "Intel Corporation"
    assert em1.model == "82599ES 10-Gigabit SFI/SFP+ Network Connection"
    assert (em1.driver, em1.link, em1.speed_mbps, em1.speed) == ("ixgbe", "Connected", 10000, "10 Gb/s")
    assert (em1.total_vfs, em1.num_vfs, em1.virtualization, em1.state) == (
        63,
        0,
        "Virtualizable",
        "Virtualizable",
    )
    assert em1.resource_name == "kvsriov.io/em1"
    assert em1.node_name == "worker-1" and em1.vfs == [] and em1.vfs_summary == "0/0"
    assert em1.conditions[0].type == "Present" and em1.conditions[0].status == "True"


def test_i350_without_sriov_capability_is_not_virtualizable(ref_tree: HostTree) -> None:
    nics = by_name(ref_tree)
    em3, em4 = nics["em3"], nics["em4"]
    assert em3.model == "I350 Gigabit Network Connection"
    assert (em3.total_vfs, em3.virtualization, em3.state) == (0, "NotVirtualizable", "NotVirtualizable")
    assert (em3.link, em3.speed_mbps) == ("Connected", 1000)
    assert (em4.link, em4.speed_mbps, em4.speed) == ("Disconnected", None, None)


def test_admin_down_link_without_carrier_file_is_disconnected(tree: HostTree) -> None:
    tree.nic("eth0", "0000:01:00.0", "8086", "10c9", "igb", 7, carrier=None)
    eth0 = by_name(tree)["eth0"]
    assert (eth0.link, eth0.speed_mbps) == ("Disconnected", None)


def test_bond_membership_is_recorded_on_members_only(ref_tree: HostTree) -> None:
    nics = by_name(ref_tree)
    for member in ("em1", "em2"):
        bond = nics[member].bond
        assert bond is not None and bond.master == "bond0" and bond.members == ["em1", "em2"]
    assert nics["em3"].bond is None
    assert "bond0" not in nics


def test_bridge_master_is_not_a_bond(tree: HostTree) -> None:
    tree.nic("eth0", "0000:01:00.0", "8086", "10c9", "igb", 7)
    bridge = tree.netdev("br0", None)
    (tree.sys / "class/net/eth0").resolve().joinpath("master").symlink_to(bridge)
    assert by_name(tree)["eth0"].bond is None


def test_sliced_pf_lists_vfs_with_netlink_settings(
    ref_tree: HostTree, recorded_netlink: RecordedNetlink
) -> None:
    ref_tree.vfs("0000:03:00.0", ["0000:03:10.0", "0000:03:10.2", "0000:03:10.4"], "8086", "10ed", "vfio-pci")
    ref_tree.unbind("0000:03:10.4")
    em1 = by_name(ref_tree, recorded_netlink)["em1"]
    assert (em1.virtualization, em1.state, em1.num_vfs) == ("Virtualized", "Virtualized", 3)
    assert [(v.index, v.pci_address, v.driver) for v in em1.vfs] == [
        (0, "0000:03:10.0", "vfio-pci"),
        (1, "0000:03:10.2", "vfio-pci"),
        (2, "0000:03:10.4", None),
    ]
    assert (em1.vfs[0].mac, em1.vfs[0].vlan) == ("02:00:00:00:00:01", 100)
    assert (em1.vfs[1].mac, em1.vfs[1].vlan) == (None, None)
    assert [v.health for v in em1.vfs] == ["Healthy", "Healthy", "Unhealthy"]
    assert (em1.vfs_available, em1.vfs_summary) == (2, "2/3")


def test_pf_driver_gone_marks_vfs_lost(ref_tree: HostTree) -> None:
    ref_tree.vfs("0000:03:00.1", ["0000:03:10.1"], "8086", "10ed", "vfio-pci")
    ref_tree.unbind("0000:03:00.1")
    em2 = by_name(ref_tree)["em2"]
    assert em2.state == "VFsLost" and em2.driver is None
    assert [v.health for v in em2.vfs] == ["Lost"] and em2.vfs_available == 0


def test_model_falls_back_to_ids_without_database(ref_tree: HostTree, tmp_path: Path) -> None:
    em1 = by_name(ref_tree, pci_ids=tmp_path / "absent")["em1"]
    assert (em1.model, em1.vendor) == ("8086:10fb", None)


def test_pci_ids_parser_reads_only_the_asked_vendor(tmp_path: Path) -> None:
    from agent_helpers import DATA

    ids = PciIds(DATA / "pci.ids")
    assert ids.device("8086", "10FB") == "82599ES 10-Gigabit SFI/SFP+ Network Connection"
    assert ids.device("8086", "1521") == "I350 Gigabit Network Connection"
    assert ids.device("8086", "ffff") is None
    assert ids.vendor("8088") == "Beijing Wangxun Technology Co., Ltd."
    assert ids.device("8088", "1001") == "Ethernet Controller RP1000 for 10GbE SFP+"
    assert ids.vendor("1234") is None
    assert list(ids._vendors) == ["8086", "8088", "1234"]
    assert PciIds(None).device("8086", "10fb") is None
