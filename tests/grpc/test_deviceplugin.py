"""The agent's device plugins against the kubelet stand-in, over real unix-socket gRPC.

Every wait is on an event (a ListAndWatch update or registration wakes the stand-in's
condition) or on a polled predicate with a timeout; nothing sleeps.
"""

from __future__ import annotations

import json

import grpc
import pytest
from plugin_node import SLICE_TIMEOUT, Node

from kvsriov.sandbox.apiserver.server import EmulatedApiServer
from kvsriov.sandbox.wait import wait_for

EM1, EM2 = "kvsriov.io/em1", "kvsriov.io/em2"
ENV = "PCIDEVICE_KVSRIOV_IO_EM1"


def listed(node: Node, resource: str, count: int, health: str = "Healthy") -> None:
    node.kubelet.wait(
        lambda: len(d := node.kubelet.devices(resource)) == count and all(h == health for h, _ in d.values()),
        timeout=SLICE_TIMEOUT,
        what=f"{count} {health} devices of {resource}",
    )


def test_registration_and_listing_after_slicing(node: Node) -> None:
    node.kubelet.wait(lambda: {EM1, EM2} <= set(node.kubelet.endpoints), what="em1, em2 registered")
    assert node.kubelet.endpoints[EM1].options.get_preferred_allocation_available
    assert node.kubelet.devices(EM1) == {}  # registered before slicing, nothing advertised early
    node.set_vfs("em1", 4)  # em1 and em2 are bonded: the bond rule lets only one be sliced
    listed(node, EM1, 4)  # the plugin learns in the pass that sliced, before status is written
    status = wait_for(lambda: len((s := node.nic("em1")["status"])["vfs"]) == 4 and s, what="em1 status")
    vfs = [vf["pciAddress"] for vf in status["vfs"]]
    assert sorted(node.kubelet.devices(EM1)) == sorted(vfs)
    assert {tuple(n) for _, n in node.kubelet.devices(EM1).values()} == {(0,)}  # sysfs numa_node of em1
    assert node.kubelet.devices(EM2) == {}
    assert node.nic("em1")["status"]["resourceName"] == EM1


def test_each_resource_reports_its_pfs_numa_node_and_preference_stays_on_it(node: Node) -> None:
    node.set_vfs("em2", 4)  # em2 sits on NUMA node 1 (sysfs numa_node), em1 on node 0
    listed(node, EM2, 4)
    assert {tuple(n) for _, n in node.kubelet.devices(EM2).values()} == {(1,)}
    ids = sorted(node.kubelet.devices(EM2))
    # All on node 1, one PF: the request is filled from the lowest VF index, must-include kept.
    assert node.kubelet.preferred(EM2, 2, must_include=[ids[2]]) == [ids[2], ids[0]]


def test_update_after_reslicing(node: Node) -> None:
    node.set_vfs("em1", 4)
    listed(node, EM1, 4)
    before = node.kubelet.endpoints[EM1].updates
    node.set_vfs("em1", 2)  # 4 -> 0 -> 2: the removed VFs are dropped, not reported Unhealthy
    listed(node, EM1, 2)
    assert node.kubelet.endpoints[EM1].updates > before


def test_unhealthy_on_pf_driver_removal(node: Node) -> None:
    node.set_vfs("em1", 4)
    listed(node, EM1, 4)
    pf = node.nic("em1")["status"]["pciAddress"]
    (node.sim / "sys/bus/pci/drivers/ixgbe/unbind").write_text(pf)
    listed(node, EM1, 4, health="Unhealthy")
    with pytest.raises(grpc.RpcError) as refused:
        node.kubelet.allocate(EM1, [next(iter(node.kubelet.devices(EM1)))])
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "unhealthy" in (refused.value.details() or "")


def test_allocate_contents_devinfo_and_status(node: Node) -> None:
    # No pod object: the agent names the VM from the launcher pod's name, as the kubelet reports it.
    node.set_vfs("em1", 4)
    listed(node, EM1, 4)
    chosen, response = node.kubelet.admit("default", "virt-launcher-vm1-x7k2p", EM1, 2)
    assert response.envs[ENV] == ",".join(chosen)
    paths = [(d.host_path, d.container_path, d.permissions) for d in response.devices]
    assert paths[0] == ("/dev/vfio/vfio", "/dev/vfio/vfio", "rw")
    assert len(paths) == 3 and all(p == c and perm == "rw" for p, c, perm in paths)
    for host_path, _, _ in paths:
        assert (node.sim / host_path.lstrip("/")).exists(), host_path
    groups = [host_path.removeprefix("/dev/vfio/") for host_path, _, _ in paths[1:]]
    for pci, group in zip(chosen, groups, strict=True):
        info = json.loads((node.devinfo / f"kvsriov.io-em1-{pci}-device.json").read_text())
        pf_pci = node.nic("em1")["status"]["pciAddress"]
        assert info == {
            "type": "pci",
            "version": "1.1.0",
            "pci": {"pci-address": pci, "pf-pci-address": pf_pci, "vfio-group": group},
        }
    status = wait_for(
        lambda: (s := node.nic("em1")["status"])["state"] == "InUse" and s,
        timeout=SLICE_TIMEOUT,
        what="InUse",
    )
    assert status["vfsAvailable"] == 2 and status["vfsSummary"] == "2/4"
    assert set(chosen) <= {vf["pciAddress"] for vf in status["vfs"]}
    owners = {vf["pciAddress"]: vf.get("owner") for vf in status["vfs"] if vf.get("allocated")}
    assert owners == dict.fromkeys(chosen, "VM default/vm1")

    node.kubelet.delete_pod("default", "virt-launcher-vm1-x7k2p")
    wait_for(
        lambda: not list(node.devinfo.glob("*.json")), timeout=SLICE_TIMEOUT, what="devinfo files removed"
    )
    status = wait_for(
        lambda: (s := node.nic("em1")["status"])["state"] == "Virtualized" and s,
        timeout=SLICE_TIMEOUT,
        what="freed",
    )
    assert status["vfsAvailable"] == 4 and not any(vf.get("allocated") for vf in status["vfs"])


def test_allocate_refuses_unknown_devices(node: Node) -> None:
    node.set_vfs("em1", 2)
    listed(node, EM1, 2)
    with pytest.raises(grpc.RpcError) as refused:
        node.kubelet.allocate(EM1, ["0000:99:00.0"])
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "0000:99:00.0" in (refused.value.details() or "")


def test_netdevice_allocate_has_no_vfio(node: Node) -> None:
    node.set_vfs("em1", 2, driver="netdevice")
    listed(node, EM1, 2)
    chosen, response = node.kubelet.admit("default", "pod-a", EM1, 1)
    assert not response.devices and response.envs[ENV] == chosen[0]
    info = json.loads((node.devinfo / f"kvsriov.io-em1-{chosen[0]}-device.json").read_text())
    assert "vfio-group" not in info["pci"] and info["pci"]["pci-address"] == chosen[0]


def test_preferred_allocation_honours_must_include(node: Node) -> None:
    node.set_vfs("em1", 4)
    listed(node, EM1, 4)
    ids = sorted(node.kubelet.devices(EM1))
    assert node.kubelet.preferred(EM1, 2, must_include=[ids[3]]) == [ids[3], ids[0]]
    assert node.kubelet.preferred(EM1, 3) == ids[:3]


def test_reregistration_after_kubelet_restart(node: Node) -> None:
    node.set_vfs("em1", 2)
    listed(node, EM1, 2)
    node.kubelet.restart()  # deletes the plugins' sockets, new kubelet.sock
    assert not node.kubelet.endpoints
    node.kubelet.wait(
        lambda: {EM1, EM2} <= set(node.kubelet.endpoints), timeout=SLICE_TIMEOUT, what="re-registered"
    )
    listed(node, EM1, 2)
    assert node.kubelet.registrations.count(EM1) >= 2


def test_serving_across_apiserver_outage(node: Node, apiserver: EmulatedApiServer) -> None:
    node.set_vfs("em1", 2)
    listed(node, EM1, 2)
    apiserver.stop()  # the agent's watches and writes fail from here on; the kubelet must not notice
    chosen, response = node.kubelet.admit("default", "pod-b", EM1, 1)
    assert response.envs[ENV] == chosen[0]
    node.kubelet.restart()
    node.kubelet.wait(lambda: EM1 in node.kubelet.endpoints, timeout=SLICE_TIMEOUT, what="re-registered")
    listed(node, EM1, 2)
