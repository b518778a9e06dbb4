"""The real agent process against the emulated API server, on a static host tree (no kernel semantics).

What it shows: objects created and adopted, status and conditions written,
only this node's objects touched, no writes when nothing changed (also across
a restart), a vanished NIC reported Missing, and the slicing guard failing
closed (no kubelet) or naming the VMs that hold the VFs.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from agent_process import HOSTS, NICS, client_for, condition, events_for, quiet_passes, running_agent

from kvsriov.sandbox.host.tree import HostTree, reference_host
from kvsriov.sandbox.kubelet.podresources import FakePodResources, pod_entry
from kvsriov.sandbox.wait import wait_for
from kvsriov_agent.kube import KubeClient

VF_ADDRESSES = [f"0000:03:10.{i}" for i in range(4)]


@pytest.fixture
def tree(tmp_path: Path) -> HostTree:
    """The reference host with em1 already sliced into 4 VFs on vfio-pci (adopted as found)."""
    host = reference_host(tmp_path / "host")
    host.vfs("0000:03:00.0", VF_ADDRESSES, "8086", "10ed", "vfio-pci")
    return host


@pytest.fixture
def client(kubeconfig: Path) -> KubeClient:
    return client_for(kubeconfig)


def nics_of(client: KubeClient, node: str) -> dict[str, dict]:
    items = client.list(NICS, label_selector=f"kvsriov.io/node={node}")["items"]
    return {o["metadata"]["name"]: o for o in items}


def settled(client: KubeClient) -> dict[str, dict]:
    """All four PFs of node-1 have a status with observedGeneration."""
    nics = nics_of(client, "node-1")
    done = len(nics) == 4 and all((o.get("status") or {}).get("observedGeneration") for o in nics.values())
    return nics if done else {}


def test_host_and_nics_are_created_adopted_and_described(
    client: KubeClient, kubeconfig: Path, tree: HostTree, tmp_path: Path
) -> None:
    other = {
        "apiVersion": "kvsriov.io/v1alpha1",
        "kind": "SriovPhysicalNic",
        "metadata": {"name": "node-2.em1", "labels": {"kvsriov.io/node": "node-2"}},
        "spec": {"nodeName": "node-2", "interface": "em1"},
    }
    other_rv = client.create(NICS, other)["metadata"]["resourceVersion"]
    with running_agent(kubeconfig, tree.root, tmp_path / "no-kubelet.sock", tmp_path / "agent.log"):
        host = wait_for(
            lambda: (h := client.get_or_none(HOSTS, "node-1")) and h.get("status") and h,
            what="SriovHost status",
        )
        assert host["status"]["iommu"] == {
            "vendor": "intel",
            "enabledInKernelArgs": True,
            "ready": True,
            "groups": 8,
        }
        assert host["status"]["interruptRemapping"] == {"supported": True, "source": "sysfs"}
        assert condition(host, "Ready")["status"] == "True"

        nics = wait_for(lambda: settled(client), what="four NICs of node-1 with status")
        em1, em3 = nics["node-1.em1"], nics["node-1.em3"]
        assert em1["spec"] == {
            "nodeName": "node-1", "interface": "em1", "numVfs": 4, "force": False, "vfDriver": "vfio-pci",
        }  # fmt: skip
        assert em1["metadata"]["labels"] == {"kvsriov.io/node": "node-1", "kvsriov.io/interface": "em1"}
        status = em1["status"]
        assert (status["pciAddress"], status["totalVfs"], status["numVfs"]) == ("0000:03:00.0", 63, 4)
        assert (status["virtualization"], status["link"], status["speed"]) == (
            "Virtualized",
            "Connected",
            "10 Gb/s",
        )
        assert status["bond"] == {"master": "bond0", "members": ["em1", "em2"]}
        assert [vf["pciAddress"] for vf in status["vfs"]] == VF_ADDRESSES
        assert condition(em1, "Sliced")["status"] == "True"
        assert em3["spec"]["numVfs"] == 0 and em3["status"]["virtualization"] == "NotVirtualizable"
        assert nics["node-1.em4"]["status"]["link"] == "Disconnected"

        # em4 is unplugged: reported Missing, never deleted.
        (tree.sys / "class/net/em4").unlink()
        em4 = wait_for(
            lambda: (o := client.get(NICS, "node-1.em4"))["status"]["state"] == "Missing" and o,
            what="em4 Missing",
        )
        assert condition(em4, "Present")["status"] == "False"
    assert client.get(NICS, "node-2.em1")["metadata"]["resourceVersion"] == other_rv


def test_objects_naming_another_node_are_neither_adopted_nor_written(
    client: KubeClient, kubeconfig: Path, tree: HostTree, tmp_path: Path
) -> None:
    """Objects node-1's agent watches (labelled for node-1) but that another node's token made:
    `node-1.em1` for node-2 (the name taken before node-1's agent came) and `node-2.em9`. The
    agent adopts and writes neither (the admission policy would refuse every write: each pass
    would fail), says so in an Event on each, and serves its other NICs."""

    def foreign(name: str, interface: str) -> dict[str, object]:
        return {
            "apiVersion": "kvsriov.io/v1alpha1",
            "kind": "SriovPhysicalNic",
            "metadata": {"name": name, "labels": {"kvsriov.io/node": "node-1"}},
            "spec": {"nodeName": "node-2", "interface": interface},
        }

    versions = {
        name: client.create(NICS, foreign(name, ifname))["metadata"]["resourceVersion"]
        for name, ifname in (("node-1.em1", "em1"), ("node-2.em9", "em9"))
    }
    log = tmp_path / "agent.log"
    with running_agent(kubeconfig, tree.root, tmp_path / "none.sock", log):
        wait_for(
            lambda: all(
                (client.get_or_none(NICS, f"node-1.{i}") or {}).get("status", {}).get("observedGeneration")
                for i in ("em2", "em3", "em4")
            ),
            what="node-1's other NICs described",
        )
        for name in versions:
            event = wait_for(
                lambda name=name: next(
                    (e for e in events_for(client, name) if e["reason"] == "NotOwnNode"), None
                ),
                what=f"the NotOwnNode Event on {name}",
            )
            assert event["type"] == "Warning" and "spec.nodeName is node-2" in event["message"]
        wait_for(lambda: quiet_passes(log, 0) >= 2, what="two passes that wrote nothing")
    for name, version in versions.items():
        obj = client.get(NICS, name)
        assert obj["metadata"]["resourceVersion"] == version and "status" not in obj, obj
    assert "reconcile failed" not in log.read_text()


def test_restart_writes_nothing_when_nothing_changed(
    client: KubeClient, kubeconfig: Path, tree: HostTree, tmp_path: Path
) -> None:
    log = tmp_path / "agent.log"

    def versions() -> dict[str, str]:
        objs = {**nics_of(client, "node-1"), "host": client.get(HOSTS, "node-1")}
        return {n: o["metadata"]["resourceVersion"] for n, o in objs.items()}

    with running_agent(kubeconfig, tree.root, tmp_path / "none.sock", log):
        wait_for(lambda: settled(client), what="first pass")
        first = versions()
        offset = len(log.read_text())
        wait_for(lambda: quiet_passes(log, offset) >= 3, what="three resync passes without writes")
        assert versions() == first
    offset = len(log.read_text())
    with running_agent(kubeconfig, tree.root, tmp_path / "none.sock", log):
        wait_for(lambda: quiet_passes(log, offset) >= 3, what="three passes without writes after restart")
        passes = re.findall(r"pass complete: (\d+) writes", log.read_text()[offset:])
        assert passes and set(passes) == {"0"}  # the restarted agent's first pass already wrote nothing
        assert versions() == first


def test_slicing_refused_when_the_kubelet_cannot_be_asked(
    client: KubeClient, kubeconfig: Path, tree: HostTree, tmp_path: Path
) -> None:
    with running_agent(kubeconfig, tree.root, tmp_path / "no-kubelet.sock", tmp_path / "agent.log"):
        wait_for(lambda: settled(client), what="first pass")
        client.merge_patch(NICS, "node-1.em1", {"spec": {"numVfs": 0}})
        cond = wait_for(
            lambda: (
                (c := condition(client.get(NICS, "node-1.em1"), "Sliced"))["reason"]
                == "PodResourcesUnavailable"
                and c
            ),
            what="Sliced False PodResourcesUnavailable",
        )
        assert cond["status"] == "False" and "fail closed" in cond["message"]
        assert (tree.sys / "devices/pci0000:00/0000:03:00.0/sriov_numvfs").read_text().strip() == "4"
        assert any(e["reason"] == "PodResourcesUnavailable" for e in events_for(client, "node-1.em1"))


def test_slicing_refused_naming_the_vms_that_hold_vfs(
    client: KubeClient, kubeconfig: Path, tree: HostTree, tmp_path: Path
) -> None:
    sock = tmp_path / "kubelet" / "pod-resources.sock"
    with FakePodResources(sock, tmp_path / "pods.json") as kubelet:
        kubelet.set_pods(
            [pod_entry("default", "virt-launcher-vm1-abcde", {"kvsriov.io/em1": [VF_ADDRESSES[2]]})]
        )
        with running_agent(kubeconfig, tree.root, sock, tmp_path / "agent.log"):
            wait_for(lambda: settled(client), what="first pass")
            client.merge_patch(NICS, "node-1.em1", {"spec": {"numVfs": 2}})
            cond = wait_for(
                lambda: (c := condition(client.get(NICS, "node-1.em1"), "Sliced"))["reason"] == "InUse" and c,
                what="Sliced False InUse",
            )
            assert "VF 2 (VM default/vm1)" in cond["message"]
            assert any(e["reason"] == "InUse" for e in events_for(client, "node-1.em1"))


def test_removing_the_tree_is_not_a_crash(
    client: KubeClient, kubeconfig: Path, tree: HostTree, tmp_path: Path
) -> None:
    """Every NIC vanishing (host root emptied) reports all of them Missing; the agent keeps running."""
    with running_agent(kubeconfig, tree.root, tmp_path / "none.sock", tmp_path / "agent.log") as proc:
        wait_for(lambda: settled(client), what="first pass")
        shutil.rmtree(tree.sys / "class/net")
        wait_for(
            lambda: all(o["status"]["state"] == "Missing" for o in nics_of(client, "node-1").values()),
            what="all NICs Missing",
        )
        assert proc.poll() is None


def test_pf_driver_unbound_marks_vfs_lost(
    client: KubeClient, kubeconfig: Path, tree: HostTree, tmp_path: Path
) -> None:
    with running_agent(kubeconfig, tree.root, tmp_path / "none.sock", tmp_path / "agent.log"):
        wait_for(lambda: settled(client), what="first pass")
        tree.unbind("0000:03:00.0")  # `echo 0000:03:00.0 > /sys/bus/pci/drivers/ixgbe/unbind`
        em1 = wait_for(
            lambda: (o := client.get(NICS, "node-1.em1"))["status"]["state"] == "VFsLost" and o,
            what="em1 VFsLost",
        )
        cond = condition(em1, "VFsLost")
        assert cond["status"] == "True" and VF_ADDRESSES[0] in cond["message"]
        assert {vf["health"] for vf in em1["status"]["vfs"]} == {"Lost"}
        assert any(
            e["reason"] == "VFsLost" and e["type"] == "Warning" for e in events_for(client, "node-1.em1")
        )
