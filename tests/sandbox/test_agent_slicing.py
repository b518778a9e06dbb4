"""The real agent slicing PFs on the simulated host (FUSE, kernel semantics of sriov_numvfs and binding).

Skipped, with the reason, where FUSE cannot mount.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_process import NICS, client_for, condition, events_for, quiet_passes, running_agent

from kvsriov.sandbox.host.simhost import fuse_unavailable, mount_sim_host
from kvsriov.sandbox.kubelet.podresources import FakePodResources, pod_entry
from kvsriov.sandbox.wait import wait_for
from kvsriov_agent.kube import KubeClient
from kvsriov_agent.kube.client import Obj

pytestmark = pytest.mark.skipif(fuse_unavailable() is not None, reason=str(fuse_unavailable()))
EM1, EM2 = "node-1.em1", "node-1.em2"
SLICE_TIMEOUT = 30


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Path]:
    with mount_sim_host(tmp_path / "host") as root:
        yield root


@pytest.fixture
def kubelet(tmp_path: Path) -> Iterator[FakePodResources]:
    with FakePodResources(tmp_path / "kubelet.sock", tmp_path / "pods.json") as server:
        server.set_pods([])
        yield server


@pytest.fixture
def client(kubeconfig: Path) -> KubeClient:
    return client_for(kubeconfig)


def sliced(client: KubeClient, name: str, count: int) -> Obj | None:
    """The NIC's status shows `count` VFs, every one on vfio-pci, and Sliced True for this generation."""
    obj = client.get_or_none(NICS, name)
    status = (obj or {}).get("status") or {}
    done = (
        status.get("numVfs") == count
        and len(status.get("vfs", [])) == count
        and all(vf.get("driver") == "vfio-pci" for vf in status.get("vfs", []))
        and condition(obj, "Sliced").get("status") == "True"
        and status.get("observedGeneration") == (obj or {})["metadata"]["generation"]
    )
    return obj if done else None


def set_vfs(client: KubeClient, name: str, count: int, force: bool = False) -> None:
    client.merge_patch(NICS, name, {"spec": {"numVfs": count, "force": force}})


def numvfs(sim: Path, pci: str) -> int:
    return int((sim / "sys/bus/pci/devices" / pci / "sriov_numvfs").read_text())


def test_slice_reslice_restore(
    client: KubeClient, kubeconfig: Path, sim: Path, kubelet: FakePodResources, tmp_path: Path
) -> None:
    with running_agent(kubeconfig, sim, kubelet.socket_path, tmp_path / "agent.log"):
        wait_for(lambda: client.get_or_none(NICS, EM1), what="em1 adopted")
        set_vfs(client, EM1, 32)
        wait_for(lambda: sliced(client, EM1, 32), timeout=SLICE_TIMEOUT, what="em1 sliced into 32 VFs")
        set_vfs(client, EM1, 8)  # 32 -> 8 goes through 0
        obj = wait_for(lambda: sliced(client, EM1, 8), timeout=SLICE_TIMEOUT, what="em1 at 8 VFs")
        assert obj["status"]["virtualization"] == "Virtualized"
        assert numvfs(sim, "0000:03:00.0") == 8
        set_vfs(client, EM1, 0)
        wait_for(lambda: sliced(client, EM1, 0), timeout=SLICE_TIMEOUT, what="em1 restored")
        assert numvfs(sim, "0000:03:00.0") == 0
        # One Sliced Event per change, each recorded just after its status write.
        wait_for(
            lambda: [e["reason"] for e in events_for(client, EM1)].count("Sliced") >= 3,
            what="a Sliced Event for each of the three changes",
        )


def test_a_restore_refused_without_the_kubelet_goes_ahead_once_it_answers(
    client: KubeClient, kubeconfig: Path, sim: Path, tmp_path: Path
) -> None:
    """No waiting for the 300 s resync: the agent asks the kubelet again, soon, until it answers."""
    sock = tmp_path / "kubelet" / "pod-resources.sock"
    kubelet = FakePodResources(sock, tmp_path / "pods.json")
    kubelet.set_pods([])
    with kubelet, running_agent(kubeconfig, sim, sock, tmp_path / "agent.log", resync=300):
        wait_for(lambda: client.get_or_none(NICS, EM1), what="em1 adopted")
        set_vfs(client, EM1, 4)
        wait_for(lambda: sliced(client, EM1, 4), timeout=SLICE_TIMEOUT, what="em1 sliced into 4 VFs")
        kubelet.stop()  # the kubelet restarts: PodResources does not answer
        set_vfs(client, EM1, 0)
        wait_for(
            lambda: condition(client.get(NICS, EM1), "Sliced").get("reason") == "PodResourcesUnavailable",
            what="Sliced False PodResourcesUnavailable",
        )
        assert numvfs(sim, "0000:03:00.0") == 4  # fail closed
        kubelet.start()  # back, and no VM holds a VF
        wait_for(
            lambda: sliced(client, EM1, 0),
            timeout=SLICE_TIMEOUT,
            what="the restore once PodResources answers",
        )
        assert numvfs(sim, "0000:03:00.0") == 0


def test_limits_and_bond_rule(
    client: KubeClient, kubeconfig: Path, sim: Path, kubelet: FakePodResources, tmp_path: Path
) -> None:
    with running_agent(kubeconfig, sim, kubelet.socket_path, tmp_path / "agent.log"):
        wait_for(lambda: client.get_or_none(NICS, EM2), what="em2 adopted")
        set_vfs(client, EM1, 64)
        cond = wait_for(
            lambda: (c := condition(client.get(NICS, EM1), "Sliced")).get("reason") == "Refused" and c,
            what="limit refusal",
        )
        assert "63" in cond["message"]
        set_vfs(client, EM1, 4)
        wait_for(lambda: sliced(client, EM1, 4), timeout=SLICE_TIMEOUT, what="em1 at 4")
        set_vfs(client, EM2, 4)
        cond = wait_for(
            lambda: (c := condition(client.get(NICS, EM2), "Sliced")).get("reason") == "Refused" and c,
            what="bond refusal",
        )
        assert "bond0" in cond["message"] and "em1" in cond["message"]
        assert numvfs(sim, "0000:03:00.1") == 0


def test_forced_restore_records_the_vms_that_lost_a_nic(
    client: KubeClient, kubeconfig: Path, sim: Path, kubelet: FakePodResources, tmp_path: Path
) -> None:
    with running_agent(kubeconfig, sim, kubelet.socket_path, tmp_path / "agent.log"):
        wait_for(lambda: client.get_or_none(NICS, EM1), what="em1 adopted")
        set_vfs(client, EM1, 4)
        obj = wait_for(lambda: sliced(client, EM1, 4), timeout=SLICE_TIMEOUT, what="em1 at 4")
        vf1 = obj["status"]["vfs"][1]["pciAddress"]
        kubelet.set_pods([pod_entry("default", "virt-launcher-vm1-x7k2p", {"kvsriov.io/em1": [vf1]})])
        set_vfs(client, EM1, 0)
        cond = wait_for(
            lambda: (c := condition(client.get(NICS, EM1), "Sliced")).get("reason") == "InUse" and c,
            what="in-use refusal",
        )
        assert "VF 1 (VM default/vm1)" in cond["message"]
        assert numvfs(sim, "0000:03:00.0") == 4
        set_vfs(client, EM1, 0, force=True)
        obj = wait_for(lambda: sliced(client, EM1, 0), timeout=SLICE_TIMEOUT, what="forced restore")
        assert "VM default/vm1" in condition(obj, "Sliced")["message"]
        # The Event follows the status write (reconcile.py: what a user waits for goes first).
        wait_for(
            lambda: any(
                e["reason"] == "ForcedVFsRemoved" and "vm1" in e["message"] for e in events_for(client, EM1)
            ),
            what="the ForcedVFsRemoved Event naming vm1",
        )


def test_agent_killed_mid_change_converges(
    client: KubeClient, kubeconfig: Path, sim: Path, kubelet: FakePodResources, tmp_path: Path
) -> None:
    """Killed after writing 0 on a 7 -> 3 change: on restart current=0, desired=3, and it slices to 3."""
    log = tmp_path / "agent.log"
    with running_agent(kubeconfig, sim, kubelet.socket_path, log) as proc:
        wait_for(lambda: client.get_or_none(NICS, EM1), what="em1 adopted")
        set_vfs(client, EM1, 7)
        wait_for(lambda: sliced(client, EM1, 7), timeout=SLICE_TIMEOUT, what="em1 at 7")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # What the killed agent left behind: the first step of 7 -> 3 written, the second not.
    (sim / "sys/bus/pci/devices/0000:03:00.0/sriov_numvfs").write_text("0")
    set_vfs(client, EM1, 3)
    with running_agent(kubeconfig, sim, kubelet.socket_path, log):
        wait_for(lambda: sliced(client, EM1, 3), timeout=SLICE_TIMEOUT, what="em1 converged at 3")
        assert numvfs(sim, "0000:03:00.0") == 3


@pytest.fixture
def short_mmio(tmp_path: Path) -> Iterator[Path]:
    """em1's firmware reserved SR-IOV MMIO for 40 of its 63 VFs: the kernel refuses 41+ with ENOMEM."""
    with mount_sim_host(tmp_path / "host", fixture="short-mmio") as root:
        yield root


def test_a_change_that_fails_halfway_is_rolled_back_to_the_previous_vfs(
    client: KubeClient, kubeconfig: Path, short_mmio: Path, kubelet: FakePodResources, tmp_path: Path
) -> None:
    """32 -> 48 writes 0 (every VF gone), then 48 fails with ENOMEM: the agent probes the kernel and
    puts the 32 VFs back on vfio-pci, says so on the condition and in an Event, and does not try the
    same spec again on every pass; a new spec within the window is applied."""
    with running_agent(kubeconfig, short_mmio, kubelet.socket_path, tmp_path / "agent.log"):
        wait_for(lambda: client.get_or_none(NICS, EM1), what="em1 adopted")
        set_vfs(client, EM1, 32)
        wait_for(lambda: sliced(client, EM1, 32), timeout=SLICE_TIMEOUT, what="em1 sliced into 32 VFs")
        set_vfs(client, EM1, 48)

        def failed() -> Obj | None:
            obj = client.get(NICS, EM1)
            cond = condition(obj, "Sliced")
            current = obj["status"].get("observedGeneration") == obj["metadata"]["generation"]
            return obj if current and cond.get("reason") == "SlicingFailed" else None

        obj = wait_for(failed, timeout=SLICE_TIMEOUT, what="the failed change reported")
        message = condition(obj, "Sliced")["message"]
        assert "ENOMEM" in message and "MMIO" in message, message
        assert "rolled back to the previous 32 VFs on vfio-pci" in message, message
        status = obj["status"]
        assert status["numVfs"] == 32 and len(status["vfs"]) == 32
        assert all(vf["driver"] == "vfio-pci" for vf in status["vfs"])
        assert numvfs(short_mmio, "0000:03:00.0") == 32
        wait_for(
            lambda: any(e["reason"] == "SlicingFailed" for e in events_for(client, EM1)),
            what="the SlicingFailed Event",
        )
        # Passes run every 0.3 s here: the same spec is not re-applied (which would destroy the VFs
        # again), so the count of 32 holds and a single Event stands for the failure.
        first = client.get(NICS, EM1)["metadata"]["resourceVersion"]
        offset = len((tmp_path / "agent.log").read_text())
        wait_for(
            lambda: quiet_passes(tmp_path / "agent.log", offset) >= 3, what="three passes that wrote nothing"
        )
        assert numvfs(short_mmio, "0000:03:00.0") == 32
        assert client.get(NICS, EM1)["metadata"]["resourceVersion"] == first
        assert [e["reason"] for e in events_for(client, EM1)].count("SlicingFailed") == 1
        set_vfs(client, EM1, 40)
        wait_for(
            lambda: sliced(client, EM1, 40), timeout=SLICE_TIMEOUT, what="em1 at 40 once the spec changed"
        )
