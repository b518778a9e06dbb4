"""A VF the kubelet frees gets its sliced state back (DESIGN §3 step 4; vfreset.py).

sriov-cni's ADD writes the VM's VLAN, MAC, spoof check and trust on the PF, and its DEL fails
for vfio-pci VFs (k8snetworkplumbingwg/sriov-cni PR 346), so nothing else puts them back.

The agent runs in this process, built as its entry point builds it, over the simulated host
(FUSE: the agent's own FileSysfs & co), the emulated API server, the kubelet stand-in (its
device-plugin Registration, Allocate and PodResources) and the simulated netlink
(kvsriov.sandbox.host.netlink): an agent process would ask the test machine's kernel, which
has no em1 and no VFs. Skipped, with the reason, where FUSE cannot mount.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from agent_process import NICS, PODS, client_for, events_for

from kvsriov.hosttypes import VfInfo
from kvsriov.sandbox.host.netlink import RecordedNetlink
from kvsriov.sandbox.host.simhost import fuse_unavailable, mount_sim_host
from kvsriov.sandbox.kubelet.deviceplugins import StandInKubelet
from kvsriov.sandbox.kubelet.podresources import FakePodResources
from kvsriov.sandbox.wait import wait_for
from kvsriov_agent.deviceplugin.manager import DevicePlugins
from kvsriov_agent.host.boot import FileBootConfig
from kvsriov_agent.host.bundle import Host
from kvsriov_agent.host.files import FileDevFs, FileProcFs, FileSysfs
from kvsriov_agent.host.kernel_log import KmsgKernelLog
from kvsriov_agent.host.modprobe import FileModprobe
from kvsriov_agent.host.pci_ids import PciIds
from kvsriov_agent.kube import KubeClient
from kvsriov_agent.kube.client import Obj
from kvsriov_agent.kube.events import EventRecorder
from kvsriov_agent.podresources import PodResourcesClient
from kvsriov_agent.reconcile import Reconciler
from kvsriov_agent.runtime import Agent
from kvsriov_agent.settings import AgentSettings, KubeletPaths, PluginTimings

UNAVAILABLE = fuse_unavailable()
pytestmark = pytest.mark.skipif(UNAVAILABLE is not None, reason=f"needs FUSE: {UNAVAILABLE}")

PCI_IDS = Path(__file__).resolve().parents[1] / "unit" / "agent" / "data" / "pci.ids"
EM1, RESOURCE = "node-1.em1", "kvsriov.io/em1"
LAUNCHER = "virt-launcher-vm1-abcde"
SLICE_TIMEOUT = 30
#: What ADD leaves on the PF for a NAD asking `spoofchk: off, trust: on` (ApplyVFConfig).
VM_MAC = "02:00:00:00:00:10"


@dataclass
class Node:
    client: KubeClient
    netlink: RecordedNetlink
    kubelet: StandInKubelet


@contextmanager
def run_agent(
    kubeconfig: Path, sim: Path, tmp_path: Path, netlink: RecordedNetlink, kubelet: StandInKubelet, sock: Path
) -> Iterator[None]:
    """The agent as kvsriov_agent/cli.py builds it, but with the simulated netlink."""
    etc = tmp_path / "etc"
    host = Host(
        sysfs=FileSysfs(sim), procfs=FileProcFs(sim), kernel_log=KmsgKernelLog(sim), netlink=netlink,
        pci_ids=PciIds(PCI_IDS), devfs=FileDevFs(sim), boot_config=FileBootConfig(etc),
        modprobe=FileModprobe(etc, sys_root=sim / "sys"),
    )  # fmt: skip
    paths = KubeletPaths(plugin_dir=kubelet.directory, pod_resources=sock, devinfo_dir=tmp_path / "devinfo")
    settings = AgentSettings(resync_s=0.3, kubelet=paths, plugins=PluginTimings(alloc_poll_s=0.2))
    client = client_for(kubeconfig)
    reconciler = Reconciler(
        client=client, host=host, node="node-1", events=EventRecorder(client, "kvsriov-agent", "node-1"),
        pod_resources=PodResourcesClient(sock, settings.pod_resources_timeout_s),
    )  # fmt: skip
    agent = Agent(reconciler, settings)
    plugins = DevicePlugins(host, paths, reconciler.pod_resources, settings.plugins,
                            wakeup=lambda: agent.wakeups.put("kubelet"))  # fmt: skip
    reconciler.plugins = plugins
    plugins.start()
    thread = threading.Thread(target=agent.run, name="agent", daemon=True)
    thread.start()
    try:
        yield
    finally:
        agent.stopped.set()
        agent.wakeups.put("stop")
        thread.join(10)
        agent.hosts.stop()
        agent.nics.stop()
        plugins.stop()


@pytest.fixture
def netlink() -> RecordedNetlink:
    """em1's VFs as the PF driver reports them (ip link show em1) once sliced into 4."""
    found = RecordedNetlink()
    found.add_vfs("em1", 4)
    return found


@pytest.fixture
def node(kubeconfig: Path, tmp_path: Path, netlink: RecordedNetlink) -> Iterator[Node]:
    sock = tmp_path / "pod-resources.sock"
    with (
        mount_sim_host(tmp_path / "host") as sim,
        FakePodResources(sock, tmp_path / "pods.json") as pod_resources,
        StandInKubelet(tmp_path / "device-plugins", pod_resources) as kubelet,
    ):
        pod_resources.set_pods([])
        client = client_for(kubeconfig)
        with run_agent(kubeconfig, sim, tmp_path, netlink, kubelet, sock):
            wait_for(lambda: client.get_or_none(NICS, EM1), what="em1 adopted")
            client.merge_patch(NICS, EM1, {"spec": {"numVfs": 4}})
            wait_for(lambda: len(kubelet.healthy(RESOURCE)) == 4, SLICE_TIMEOUT, what="4 healthy em1 VFs")
            yield Node(client, netlink, kubelet)


def vf_status(client: KubeClient, pci: str) -> dict[str, object]:
    return next(vf for vf in client.get(NICS, EM1)["status"]["vfs"] if vf["pciAddress"] == pci)


def start_vm(node: Node) -> tuple[int, str]:
    """The launcher pod is admitted (Allocate), then sriov-cni's ADD configures its VF on the PF."""
    node.client.create(
        PODS,
        {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": LAUNCHER, "namespace": "default",
                         "labels": {"kubevirt.io": "virt-launcher", "kubevirt.io/created-by": "vmi-uid-1"},
                         "ownerReferences": [{"apiVersion": "kubevirt.io/v1",
                             "kind": "VirtualMachineInstance",
                             "name": "vm1", "uid": "vmi-uid-1", "controller": True}]},
            "spec": {"containers": [{"name": "compute", "image": "virt-launcher"}]},
        },
        namespace="default",
    )  # fmt: skip
    (pci,), _ = node.kubelet.admit("default", LAUNCHER, RESOURCE, 1)
    index = int(str(vf_status(node.client, pci)["index"]))
    node.netlink.set_vf("em1", index, vlan=100, mac=VM_MAC, spoofchk=False, trust=True)
    wait_for(
        lambda: (vf := vf_status(node.client, pci))["allocated"] and vf.get("mac") == VM_MAC,
        what="the VF allocated to vm1 with its MAC",
    )
    return index, pci


def reason_events(client: KubeClient, reason: str) -> list[Obj]:
    return [e for e in events_for(client, EM1) if e["reason"] == reason]


def test_a_freed_vf_gets_its_sliced_state_back(node: Node) -> None:
    index, pci = start_vm(node)
    other = [vf for vf in node.netlink.vfs("em1") if vf.index != index]
    node.kubelet.delete_pod("default", LAUNCHER)  # the VM stopped; sriov-cni's DEL failed
    wait_for(
        lambda: not (vf := vf_status(node.client, pci))["allocated"] and vf.get("mac") is None,
        what="the freed VF shown without the VM's MAC",
    )
    assert node.netlink.vfs("em1")[index] == VfInfo(index, None, None, spoofchk=True, trust=False)
    assert [vf for vf in node.netlink.vfs("em1") if vf.index != index] == other  # no other VF touched
    (event,) = wait_for(lambda: reason_events(node.client, "VFReset"), what="a VFReset Event")
    assert event["type"] == "Normal"
    assert f"VF {index} ({pci}, freed by VM default/vm1)" in event["message"]
    assert "vlan 100 -> none" in event["message"] and "trust on -> off" in event["message"]


def test_a_vf_that_cannot_be_reset_is_reported(node: Node) -> None:
    index, pci = start_vm(node)
    node.netlink.unsupported.add("trust")  # the PF driver refuses it from now on (EOPNOTSUPP)
    node.kubelet.delete_pod("default", LAUNCHER)
    (event,) = wait_for(lambda: reason_events(node.client, "VFResetFailed"), what="a VFResetFailed Event")
    assert event["type"] == "Warning"
    assert f"could not restore VF {index} ({pci}" in event["message"] and "trust: " in event["message"]
    vf = node.netlink.vfs("em1")[index]
    assert (vf.mac, vf.vlan, vf.spoofchk, vf.trust) == (None, None, True, True)  # the rest was restored
    assert vf_status(node.client, pci).get("vlan") is None
