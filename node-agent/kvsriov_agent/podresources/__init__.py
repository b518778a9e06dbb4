"""The kubelet's PodResources API: which pod holds which device (VF PCI address)."""

from kvsriov_agent.podresources.client import (
    DEFAULT_SOCKET,
    DeviceAllocation,
    PodResourcesClient,
    PodResourcesUnavailable,
)

__all__ = ["DEFAULT_SOCKET", "DeviceAllocation", "PodResourcesClient", "PodResourcesUnavailable"]
