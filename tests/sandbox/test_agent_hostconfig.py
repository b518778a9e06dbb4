"""The real agent process on the host-level rules: unsafe interrupts, kernel arguments, a vfDriver
change alone, and a watch whose resume point the API server has forgotten (410 Expired).

Kernel semantics (binding, sriov_numvfs) come from the FUSE simulated host, skipped with the reason
where FUSE cannot mount; the boot loader and the 410 cases need no kernel and use a static tree.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_process import HOSTS, NICS, client_for, condition, events_for, running_agent

from kvsriov.sandbox.apiserver.server import EmulatedApiServer
from kvsriov.sandbox.host.simhost import fuse_unavailable, mount_sim_host
from kvsriov.sandbox.host.tree import HostTree, reference_host
from kvsriov.sandbox.kubelet.podresources import FakePodResources
from kvsriov.sandbox.pytest_plugin import REPO_CRDS
from kvsriov.sandbox.wait import wait_for
from kvsriov_agent.kube import KubeClient
from kvsriov_agent.kube.client import Obj

needs_fuse = pytest.mark.skipif(fuse_unavailable() is not None, reason=str(fuse_unavailable()))
EM1, EM3 = "node-1.em1", "node-1.em3"
EM1_PCI = "0000:03:00.0"
SLICE_TIMEOUT = 30
MODPROBE_CONF = "etc/modprobe.d/kvsriov.conf"
UNSAFE_PARAM = "sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts"
GRUB_DROP_IN = "etc/default/grub.d/kvsriov.cfg"


@pytest.fixture
def kubelet(tmp_path: Path) -> Iterator[FakePodResources]:
    with FakePodResources(tmp_path / "kubelet.sock", tmp_path / "pods.json") as server:
        server.set_pods([])
        yield server


@pytest.fixture
def client(kubeconfig: Path) -> KubeClient:
    return client_for(kubeconfig)


def on_driver(client: KubeClient, name: str, count: int, driver: str) -> Obj | None:
    """Status shows `count` VFs, all on `driver` (netdevice: the VF's kernel driver), Sliced True, current."""
    obj = client.get_or_none(NICS, name)
    status = (obj or {}).get("status") or {}
    vfs = status.get("vfs", [])
    wanted = (lambda d: d not in (None, "vfio-pci")) if driver == "netdevice" else (lambda d: d == driver)
    done = (
        status.get("numVfs") == count
        and len(vfs) == count
        and all(wanted(vf.get("driver")) for vf in vfs)
        and condition(obj, "Sliced").get("status") == "True"
        and status.get("observedGeneration") == (obj or {})["metadata"]["generation"]
    )
    return obj if done else None


def host_condition(client: KubeClient, type_: str, status: str) -> dict[str, str]:
    """The SriovHost condition once it has `status` for the current generation, else {}."""
    obj = client.get_or_none(HOSTS, "node-1")
    cond = condition(obj, type_)
    current = obj is not None and cond.get("observedGeneration") == obj["metadata"].get("generation")
    return cond if current and cond.get("status") == status else {}


def set_host_spec(client: KubeClient, **spec: bool) -> None:
    client.merge_patch(HOSTS, "node-1", {"spec": spec})


@needs_fuse
def test_vfio_refused_without_interrupt_remapping_until_unsafe_interrupts_allowed(
    client: KubeClient, kubeconfig: Path, kubelet: FakePodResources, tmp_path: Path
) -> None:
    etc = tmp_path / "etc-root"
    with (
        mount_sim_host(tmp_path / "host", fixture="no-intremap") as sim,
        running_agent(
            kubeconfig, sim, kubelet.socket_path, tmp_path / "agent.log", options=("--etc-root", str(etc))
        ),
    ):
        wait_for(lambda: client.get_or_none(NICS, EM1), what="em1 adopted")
        host = wait_for(
            lambda: (h := client.get_or_none(HOSTS, "node-1")) and h.get("status") and h, what="host status"
        )
        assert host["status"]["interruptRemapping"] == {"supported": False, "source": "sysfs"}
        assert condition(host, "InterruptRemapping")["reason"] == "InterruptRemappingNotSupported"

        client.merge_patch(NICS, EM1, {"spec": {"numVfs": 4}})
        cond = wait_for(
            lambda: (c := condition(client.get(NICS, EM1), "Sliced")).get("reason") == "Refused" and c,
            what="vfio-pci refusal",
        )
        assert "does not remap interrupts" in cond["message"] and "allowUnsafeInterrupts" in cond["message"]
        assert (sim / f"sys/bus/pci/devices/{EM1_PCI}/sriov_numvfs").read_text().strip() == "0"

        set_host_spec(client, allowUnsafeInterrupts=True)
        cond = wait_for(
            lambda: host_condition(client, "UnsafeInterruptsAllowed", "True"), what="UnsafeInterruptsAllowed"
        )
        assert "Security warning" in cond["message"]
        assert (
            (etc / MODPROBE_CONF).read_text().endswith("options vfio_iommu_type1 allow_unsafe_interrupts=1\n")
        )
        assert (sim / UNSAFE_PARAM).read_text().strip() == "1"
        warnings = [e for e in events_for(client, "node-1") if e["reason"] == "UnsafeInterruptsAllowed"]
        assert warnings and warnings[0]["type"] == "Warning"
        wait_for(lambda: on_driver(client, EM1, 4, "vfio-pci"), timeout=SLICE_TIMEOUT, what="em1 at 4 VFs")

        set_host_spec(client, allowUnsafeInterrupts=False)
        wait_for(
            lambda: host_condition(client, "UnsafeInterruptsAllowed", "False"), what="unsafe interrupts off"
        )
        assert not (etc / MODPROBE_CONF).exists()
        assert (sim / UNSAFE_PARAM).read_text().strip() == "0"


@needs_fuse
def test_vf_driver_change_alone_rebinds(
    client: KubeClient, kubeconfig: Path, kubelet: FakePodResources, tmp_path: Path
) -> None:
    with (
        mount_sim_host(tmp_path / "host") as sim,
        running_agent(kubeconfig, sim, kubelet.socket_path, tmp_path / "agent.log"),
    ):
        wait_for(lambda: client.get_or_none(NICS, EM1), what="em1 adopted")
        client.merge_patch(NICS, EM1, {"spec": {"numVfs": 3}})
        obj = wait_for(lambda: on_driver(client, EM1, 3, "vfio-pci"), timeout=SLICE_TIMEOUT, what="3 on vfio")
        addresses = [vf["pciAddress"] for vf in obj["status"]["vfs"]]

        client.merge_patch(NICS, EM1, {"spec": {"vfDriver": "netdevice"}})
        obj = wait_for(
            lambda: on_driver(client, EM1, 3, "netdevice"), timeout=SLICE_TIMEOUT, what="3 on ixgbevf"
        )
        assert {vf["driver"] for vf in obj["status"]["vfs"]} == {"ixgbevf"}
        assert [vf["pciAddress"] for vf in obj["status"]["vfs"]] == addresses  # re-bound, not re-sliced
        assert not list((sim / "dev/vfio").glob("[0-9]*"))

        client.merge_patch(NICS, EM1, {"spec": {"vfDriver": "vfio-pci"}})
        obj = wait_for(
            lambda: on_driver(client, EM1, 3, "vfio-pci"), timeout=SLICE_TIMEOUT, what="back on vfio"
        )
        assert [vf["pciAddress"] for vf in obj["status"]["vfs"]] == addresses
        assert len(list((sim / "dev/vfio").glob("[0-9]*"))) == 3


def grub_host(tmp_path: Path) -> HostTree:
    """The reference host booted without the IOMMU arguments (VT-d on by the kernel's default), on GRUB."""
    tree = reference_host(tmp_path / "host")
    tree.cmdline("BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet")
    tree.write("etc/default/grub", 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX=""\n')
    return tree


def test_configure_kernel_args_on_grub_until_the_reboot(
    client: KubeClient, kubeconfig: Path, tmp_path: Path
) -> None:
    tree = grub_host(tmp_path)
    with running_agent(kubeconfig, tree.root, tmp_path / "none.sock", tmp_path / "agent.log") as proc:
        wait_for(lambda: host_condition(client, "Ready", "True"), what="host probed")
        assert not (tree.root / GRUB_DROP_IN).exists()  # nobody asked yet

        set_host_spec(client, configureKernelArgs=True)
        cond = wait_for(
            lambda: host_condition(client, "KernelArgsConfigured", "True"), what="KernelArgsConfigured"
        )
        status = client.get(HOSTS, "node-1")["status"]
        assert status["rebootRequired"] is True and status["bootLoader"] == "grub"
        assert "reboot the node" in cond["message"]
        assert (
            (tree.root / GRUB_DROP_IN)
            .read_text()
            .endswith('GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX intel_iommu=on iommu=pt"\n')
        )
        assert (tree.root / "etc/default/grub").read_text() == 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX=""\n'

        # The administrator ran update-grub and rebooted: /proc/cmdline now carries the arguments.
        tree.cmdline("BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet intel_iommu=on iommu=pt")
        wait_for(
            lambda: client.get(HOSTS, "node-1")["status"]["rebootRequired"] is False,
            what="rebootRequired false",
        )
        assert (
            "active since the last boot"
            in condition(client.get(HOSTS, "node-1"), "KernelArgsConfigured")["message"]
        )
        assert proc.poll() is None


@pytest.mark.parametrize(
    ("files", "says"),
    [
        ({}, "unsupported boot loader"),
        ({"etc/kernel/cmdline": "root=/dev/sda1 ro\n"}, "kernel-install"),
    ],
    ids=["none", "systemd-boot"],
)
def test_configure_kernel_args_refused_on_other_boot_loaders(
    client: KubeClient, kubeconfig: Path, tmp_path: Path, files: dict[str, str], says: str
) -> None:
    tree = reference_host(tmp_path / "host")
    for rel, text in files.items():
        tree.write(rel, text)
    with running_agent(kubeconfig, tree.root, tmp_path / "none.sock", tmp_path / "agent.log"):
        wait_for(lambda: host_condition(client, "Ready", "True"), what="host probed")
        set_host_spec(client, configureKernelArgs=True)
        cond = wait_for(
            lambda: host_condition(client, "KernelArgsConfigured", "False"), what="KernelArgsConfigured False"
        )
        assert cond["reason"] == "UnsupportedBootLoader"
        assert says in cond["message"] and "intel_iommu=on iommu=pt" in cond["message"]
        for rel, text in files.items():
            assert (tree.root / rel).read_text() == text  # the administrator's command line is untouched
        assert not (tree.root / GRUB_DROP_IN).exists()


def test_watch_expired_410_relists_and_keeps_reacting(tmp_path: Path) -> None:
    """A quiet, selective watch on a busy server: its resourceVersion falls out of a 5-event history,
    the next resume gets 410 Expired, the agent re-lists and still sees the next change."""
    tree = reference_host(tmp_path / "host")
    log = tmp_path / "agent.log"
    with EmulatedApiServer(crd_dirs=[REPO_CRDS], history_size=5) as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        client = client_for(kubeconfig)
        options = ("--watch-timeout", "1")
        with running_agent(kubeconfig, tree.root, tmp_path / "none.sock", log, resync=300, options=options):
            wait_for(lambda: client.get_or_none(NICS, "node-1.em4"), what="node-1 NICs adopted")
            wait_for(
                lambda: "pass complete: 0 writes" in log.read_text(), what="a pass with nothing to write"
            )
            for index in range(12):  # another node's churn: none of it matches this agent's selectors
                client.create(NICS, {
                    "apiVersion": "kvsriov.io/v1alpha1", "kind": "SriovPhysicalNic",
                    "metadata": {"name": f"node-2.eth{index}", "labels": {"kvsriov.io/node": "node-2"}},
                    "spec": {"nodeName": "node-2", "interface": f"eth{index}"},
                })  # fmt: skip
            wait_for(
                lambda: (
                    "sriovphysicalnics: resourceVersion" in log.read_text()
                    and "sriovhosts: resourceVersion" in log.read_text()
                ),
                what="both watches re-listing after 410 Expired",
            )
            assert "expired (410), re-listing" in log.read_text()
            # With a 300 s resync, only the re-established watch can deliver this change in time.
            client.merge_patch(NICS, EM3, {"spec": {"numVfs": 2}})
            cond = wait_for(
                lambda: (c := condition(client.get(NICS, EM3), "Sliced")).get("reason") == "Refused" and c,
                what="em3 refusal after the re-list",
            )
            assert "not virtualizable" in cond["message"]
            assert "status" not in client.get(NICS, "node-2.eth0")  # never another node's objects
