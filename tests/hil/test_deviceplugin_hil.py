"""The device plugin on the real kernel: QEMU's igb (82576, 7 VFs) on vfio-pci behind VT-d.

The agent's DevicePlugins (the same object the agent runs) is fed the PF as the reconcile
pass would, and serves the kubelet stand-in over unix sockets in the guest's /tmp. No API
server and no kubernetes client here: importing that is slow under TCG, and allocation
needs neither. Leaves the PF at 0 VFs, since all hil tests share one guest.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kvsriov.api.nic import SriovPhysicalNicSpec
from kvsriov.sandbox.kubelet.deviceplugins import StandInKubelet
from kvsriov.sandbox.kubelet.podresources import FakePodResources
from kvsriov_agent.binding import bind_vfs, iommu_group
from kvsriov_agent.deviceplugin.manager import DevicePlugins
from kvsriov_agent.discovery import discover_nics, observe_nic
from kvsriov_agent.host.bundle import Host, real_host
from kvsriov_agent.podresources import PodResourcesClient
from kvsriov_agent.settings import KubeletPaths
from kvsriov_agent.slicing import apply_numvfs, current_numvfs, vf_addresses
from kvsriov_agent.waiting import poll

pytestmark = pytest.mark.hil

#: Binding 7 VFs and the first gRPC round trips take seconds under TCG.
TIMEOUT_S = 60.0


@pytest.fixture
def sliced(tmp_path: Path) -> Iterator[tuple[Host, str, str]]:
    """(host, interface, PCI address) of the first igb PF, sliced to 7 VFs on vfio-pci."""
    host = real_host(Path("/"))
    pf = next(n for n in discover_nics(host, "guest") if n.driver == "igb")
    assert pf.interface and pf.num_vfs == 0, f"{pf.interface} left at {pf.num_vfs} VFs by an earlier test"
    try:
        apply_numvfs(host, pf.pci_address, [7])
        bind_vfs(host, pf.pci_address, "vfio-pci")
        yield host, pf.interface, pf.pci_address
    finally:
        if current_numvfs(host.sysfs, pf.pci_address):
            apply_numvfs(host, pf.pci_address, [0])


def test_plugin_lists_and_allocates_the_igb_vfs(sliced: tuple[Host, str, str], tmp_path: Path) -> None:
    host, ifname, pf_pci = sliced
    resource = f"kvsriov.io/{ifname}"
    vfs = set(vf_addresses(host.sysfs, pf_pci).values())
    paths = KubeletPaths(tmp_path / "device-plugins", tmp_path / "pr.sock", tmp_path / "devinfo")
    with (
        FakePodResources(tmp_path / "pr.sock", tmp_path / "pods.json") as pod_resources,
        StandInKubelet(paths.plugin_dir, pod_resources) as kubelet,
    ):
        pod_resources.set_pods([])
        plugins = DevicePlugins(host, paths, PodResourcesClient(paths.pod_resources))
        plugins.start()
        try:
            spec = SriovPhysicalNicSpec(node_name="guest", interface=ifname, num_vfs=7, vf_driver="vfio-pci")
            observed = observe_nic(host, "guest", ifname)
            plugins.observe(observed.status, observed.vfs, spec)
            kubelet.wait(lambda: len(kubelet.healthy(resource)) == 7, TIMEOUT_S, f"7 healthy {resource}")
            assert set(kubelet.devices(resource)) == vfs

            chosen, response = kubelet.admit("vms", "virt-launcher-vm1-x", resource, 2)
            assert set(chosen) <= vfs
            assert response.envs[f"PCIDEVICE_KVSRIOV_IO_{ifname.upper()}"] == ",".join(chosen)
            devices = [d.host_path for d in response.devices]
            assert devices[0] == "/dev/vfio/vfio"
            assert devices[1:] == [f"/dev/vfio/{iommu_group(host, vf)}" for vf in chosen]
            assert all(os.path.exists(path) for path in devices), devices
            for vf in chosen:
                info = json.loads((paths.devinfo_dir / f"kvsriov.io-{ifname}-{vf}-device.json").read_text())
                group = iommu_group(host, vf)
                assert info["pci"] == {"pci-address": vf, "pf-pci-address": pf_pci, "vfio-group": group}

            # The agent learns of allocations from PodResources (as it will learn of the pod's end).
            assert poll(lambda: set(chosen) <= set(plugins.allocated), TIMEOUT_S), "allocation never seen"
            kubelet.delete_pod("vms", "virt-launcher-vm1-x")
            assert poll(lambda: not list(paths.devinfo_dir.glob("*.json")), TIMEOUT_S), "devinfo files left"
        finally:
            plugins.stop()
