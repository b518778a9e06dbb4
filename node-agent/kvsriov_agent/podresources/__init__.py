"""The kubelet's PodResources API: which pod holds which device (VF PCI address)."""

from kvsriov_agent.podresources.client import DeviceAllocation, PodResourcesClient, PodResourcesUnavailable

__all__ = ["DeviceAllocation", "PodResourcesClient", "PodResourcesUnavailable"]
