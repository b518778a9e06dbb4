"""The simulated node the device plugin tests drive (imported by conftest.py and the tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kvsriov.api.constants import GROUP, VERSION
from kvsriov.api.kinds import NIC_PLURAL
from kvsriov.sandbox.kubelet.deviceplugins import StandInKubelet
from kvsriov.sandbox.kubelet.podresources import FakePodResources
from kvsriov_agent.kube import KubeClient, ResourcePath
from kvsriov_agent.kube.client import Obj

NICS = ResourcePath(GROUP, VERSION, NIC_PLURAL)
SLICE_TIMEOUT = 30.0


@dataclass
class Node:
    """One simulated node: host tree, kubelet stand-in, API client, and the agent's paths."""

    sim: Path
    kubelet: StandInKubelet
    pod_resources: FakePodResources
    client: KubeClient
    devinfo: Path

    def set_vfs(self, nic: str, count: int, driver: str = "vfio-pci") -> None:
        self.client.merge_patch(NICS, f"node-1.{nic}", {"spec": {"numVfs": count, "vfDriver": driver}})

    def nic(self, nic: str) -> Obj:
        return self.client.get(NICS, f"node-1.{nic}")
