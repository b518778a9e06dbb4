"""The whole agent on the real kernel: `kvsriov agent` against the emulated API server, both in the guest.

The guest has no network to the host, so the emulated API server runs in the guest too
(`kvsriov apiserver`, a subprocess), with the kubelet's PodResources served from a fixture
over a real unix socket, and the REAL agent process (`kvsriov agent --host-root /`) with
/etc redirected to /tmp (the guest's root is read-only). The test talks to the API through
the agent's own stdlib client: the `kubernetes` client takes ~20 s to start under TCG.

Started once per module; every test leaves the PF at 0 VFs (all hil tests share one guest).
With `--iommu no-intremap` (KVSRIOV_HIL_IOMMU=no-intremap) the same flow shows the
vfio-pci refusal, lifted by spec.allowUnsafeInterrupts.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from agent_stack import HOSTS, NICS, AgentStack, agent_stack

from kvsriov.api.naming import nic_object_name
from kvsriov.sandbox.wait import wait_for
from kvsriov_agent.kube import KubeClient
from kvsriov_agent.kube.client import Obj

pytestmark = pytest.mark.hil

REMAPS = os.environ.get("KVSRIOV_HIL_IOMMU", "on") != "no-intremap"
NODE = "testbed"
IGB_TOTAL_VFS = 7
#: One numVfs change: the kernel's write (1.3 s up, 2.9 s down), binding, discovery, two status writes.
CHANGE_TIMEOUT = 90.0
#: Polling interval: each poll is an HTTP GET competing with the agent for the guest's 2 vCPUs.
POLL = 0.2
UNSAFE_PARAM = Path("/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts")
T = TypeVar("T")


def wait(predicate: Callable[[], T], what: str, timeout: float = CHANGE_TIMEOUT) -> T:
    return wait_for(predicate, timeout=timeout, interval=POLL, what=what)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentStack]:
    """Emulated API server, fake kubelet PodResources and the agent, started once for the module."""
    try:
        with agent_stack(tmp_path_factory.mktemp("agent-hil"), NODE, poll=POLL) as started:
            print(
                f"API server up in {started.api_start_s:.1f} s, SriovHost after {started.agent_start_s:.1f} s"
            )
            try:
                yield started
            finally:
                sys.stderr.write(started.agent_log.read_text()[-6000:])
    finally:
        for pf in Path("/sys/bus/pci/drivers/igb").glob("0000:*"):  # whatever happened: PFs back at 0
            numvfs = pf / "sriov_numvfs"
            if numvfs.exists() and numvfs.read_text().strip() != "0":
                numvfs.write_text("0")


def condition(obj: Obj | None, type_: str) -> dict[str, str]:
    for cond in ((obj or {}).get("status") or {}).get("conditions", []):
        if cond["type"] == type_:
            return dict(cond)
    return {}


def nics(client: KubeClient) -> dict[str, Obj]:
    """This node's NIC objects, by interface, once each has a status."""
    items = client.list(NICS, label_selector=f"kvsriov.io/node={NODE}")["items"]
    return {o["spec"]["interface"]: o for o in items if o.get("status")}


@pytest.fixture(scope="module")
def igb(stack: AgentStack) -> tuple[str, str]:
    """(object name, PF PCI address) of the first igb PF."""
    found = wait(
        lambda: {i: o for i, o in nics(stack.client).items() if o["status"].get("driver") == "igb"}, "igb"
    )
    ifname = sorted(found)[0]
    return nic_object_name(NODE, ifname), found[ifname]["status"]["pciAddress"]


def sliced(client: KubeClient, name: str, count: int) -> Obj | None:
    """numVfs, `count` VFs on vfio-pci in status, Sliced True, for the current generation."""
    obj = client.get_or_none(NICS, name)
    status = (obj or {}).get("status") or {}
    vfs = status.get("vfs", [])
    done = (
        status.get("numVfs") == count
        and len(vfs) == count
        and all(vf.get("driver") == "vfio-pci" for vf in vfs)
        and condition(obj, "Sliced").get("status") == "True"
        and status.get("observedGeneration") == (obj or {})["metadata"]["generation"]
    )
    return obj if done else None


def set_vfs(client: KubeClient, name: str, count: int) -> float:
    client.merge_patch(NICS, name, {"spec": {"numVfs": count}})
    return time.perf_counter()


def virtfns(pf_pci: str) -> list[str]:
    pf = Path("/sys/bus/pci/devices") / pf_pci
    return [
        os.path.basename(os.readlink(link))
        for link in sorted(pf.glob("virtfn*"), key=lambda p: int(p.name[6:]))
    ]


def test_host_status_iommu_and_interrupt_remapping(stack: AgentStack) -> None:
    host = wait(lambda: (h := stack.client.get(HOSTS, NODE)).get("status") and h, "SriovHost status")
    iommu = host["status"]["iommu"]
    assert (iommu["vendor"], iommu["ready"], iommu["enabledInKernelArgs"]) == ("intel", True, True)
    assert iommu["groups"] > 0
    assert host["status"]["interruptRemapping"] == {"supported": REMAPS, "source": "sysfs"}
    assert condition(host, "IOMMUReady")["status"] == "True"
    assert condition(host, "InterruptRemapping")["status"] == ("True" if REMAPS else "False")
    assert condition(host, "Ready")["status"] == ("True" if REMAPS else "False")


def test_pfs_discovered(stack: AgentStack) -> None:
    found = wait(lambda: (n := nics(stack.client)) and len(n) >= 3 and n, "three NICs with status")
    by_driver: dict[str, list[Obj]] = {}
    for obj in found.values():
        by_driver.setdefault(obj["status"]["driver"], []).append(obj)
    assert len(by_driver["igb"]) == 2 and len(by_driver["e1000e"]) == 1
    for obj in by_driver["igb"]:
        status = obj["status"]
        assert (status["virtualization"], status["totalVfs"], status["numVfs"]) == ("Virtualizable", 7, 0)
        assert obj["spec"]["numVfs"] == 0  # adopted as found
    assert by_driver["e1000e"][0]["status"]["virtualization"] == "NotVirtualizable"


def test_vfio_binding_gated_by_interrupt_remapping(stack: AgentStack, igb: tuple[str, str]) -> None:
    """With remapping: no opt-in, nothing written. Without: vfio-pci refused until allowUnsafeInterrupts."""
    name, pci = igb
    conf = stack.etc / "etc/modprobe.d/kvsriov.conf"
    if REMAPS:
        host = stack.client.get(HOSTS, NODE)
        assert condition(host, "UnsafeInterruptsAllowed")["reason"] == "UnsafeInterruptsNotAllowed"
        assert UNSAFE_PARAM.read_text().strip() == "N" and not conf.exists()
        return
    set_vfs(stack.client, name, 7)
    cond = wait(
        lambda: (c := condition(stack.client.get(NICS, name), "Sliced")).get("reason") == "Refused" and c,
        "vfio-pci refusal",
    )
    assert "does not remap interrupts" in cond["message"]
    assert virtfns(pci) == []
    stack.client.merge_patch(HOSTS, NODE, {"spec": {"allowUnsafeInterrupts": True}})
    wait(lambda: condition(stack.client.get(HOSTS, NODE), "UnsafeInterruptsAllowed").get("status") == "True",
         "UnsafeInterruptsAllowed")  # fmt: skip
    assert UNSAFE_PARAM.read_text().strip() == "Y"
    assert conf.read_text().endswith("options vfio_iommu_type1 allow_unsafe_interrupts=1\n")
    wait(lambda: sliced(stack.client, name, 7), "7 VFs once unsafe interrupts are allowed")


def test_slice_to_7_bound_to_vfio_pci(stack: AgentStack, igb: tuple[str, str]) -> None:
    name, pci = igb
    start = set_vfs(stack.client, name, 7)
    obj = wait(lambda: sliced(stack.client, name, 7), "7 VFs on vfio-pci in status")
    print(f"0 -> 7 VFs bound and in status: {time.perf_counter() - start:.2f} s")
    addresses = virtfns(pci)
    assert [vf["pciAddress"] for vf in obj["status"]["vfs"]] == addresses and len(addresses) == 7
    assert [vf["index"] for vf in obj["status"]["vfs"]] == list(range(7))
    groups = set()
    for vf in addresses:
        dev = Path("/sys/bus/pci/devices") / vf
        assert os.path.basename(os.readlink(dev / "driver")) == "vfio-pci"
        group = os.path.basename(os.readlink(dev / "iommu_group"))
        assert stat.S_ISCHR(os.stat(f"/dev/vfio/{group}").st_mode)
        groups.add(group)
    assert len(groups) == 7
    assert obj["status"]["virtualization"] == "Virtualized"


def test_7_to_3_through_0(stack: AgentStack, igb: tuple[str, str]) -> None:
    name, pci = igb
    start = set_vfs(stack.client, name, 3)
    obj = wait(lambda: sliced(stack.client, name, 3), "3 VFs on vfio-pci in status")
    print(f"7 -> 0 -> 3 VFs: {time.perf_counter() - start:.2f} s")
    assert (
        len(virtfns(pci)) == 3 and Path(f"/sys/bus/pci/devices/{pci}/sriov_numvfs").read_text().strip() == "3"
    )
    assert "3 VFs on vfio-pci" in condition(obj, "Sliced")["message"]


def test_restore_to_0(stack: AgentStack, igb: tuple[str, str]) -> None:
    name, pci = igb
    groups = [os.path.basename(os.readlink(f"/sys/bus/pci/devices/{vf}/iommu_group")) for vf in virtfns(pci)]
    start = set_vfs(stack.client, name, 0)
    obj = wait(lambda: sliced(stack.client, name, 0), "restored to 0 in status")
    print(f"restore to 0: {time.perf_counter() - start:.2f} s")
    assert obj["status"].get("vfs", []) == [] and obj["status"]["virtualization"] == "Virtualizable"
    assert virtfns(pci) == [] and not any(Path(f"/dev/vfio/{g}").exists() for g in groups)
    if not REMAPS:  # turned off again: the option file and the live parameter go
        stack.client.merge_patch(HOSTS, NODE, {"spec": {"allowUnsafeInterrupts": False}})
        wait(lambda: UNSAFE_PARAM.read_text().strip() == "N", "allow_unsafe_interrupts back to N")
        assert not (stack.etc / "etc/modprobe.d/kvsriov.conf").exists()
