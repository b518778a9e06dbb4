"""PodResources v1 `List` over the kubelet's unix socket (gRPC).

The kubelet is the only authority on which devices it gave to which pods:
the API server never sees device IDs. So the slicing guard asks the kubelet,
and treats any failure to ask as "cannot tell" — callers must fail closed.
Shared with the device plugin (issue 6), which reports allocation from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kvsriov_agent.settings import AgentSettings


class PodResourcesUnavailable(RuntimeError):
    """The kubelet could not be asked (no socket, not serving, timed out)."""


@dataclass(frozen=True)
class DeviceAllocation:
    """One device the kubelet allocated: to which pod (and container), under which resource name."""

    device_id: str
    resource_name: str
    namespace: str
    pod: str
    container: str


class PodResourcesClient:
    def __init__(
        self, socket_path: str | Path, timeout: float = AgentSettings.pod_resources_timeout_s
    ) -> None:
        self.socket_path = str(socket_path)
        self.timeout = timeout

    def list_devices(self, resource_prefix: str | None = None) -> list[DeviceAllocation]:
        """Every allocated device (optionally only resources starting with `resource_prefix`).

        Raises PodResourcesUnavailable when the kubelet cannot be asked.
        """
        import grpc  # imported on first use: the agent's idle path does not need it

        from kvsriov.kubeletapi.podresources.v1 import api_pb2, api_pb2_grpc

        try:
            with grpc.insecure_channel(f"unix://{self.socket_path}") as channel:
                stub = api_pb2_grpc.PodResourcesListerStub(channel)
                response = stub.List(api_pb2.ListPodResourcesRequest(), timeout=self.timeout)
        except grpc.RpcError as err:
            detail = err.details() if hasattr(err, "details") else str(err)
            raise PodResourcesUnavailable(f"kubelet PodResources at {self.socket_path}: {detail}") from err
        found = []
        for pod in response.pod_resources:
            for container in pod.containers:
                for devices in container.devices:
                    if resource_prefix and not devices.resource_name.startswith(resource_prefix):
                        continue
                    found += [
                        DeviceAllocation(
                            device_id=device_id,
                            resource_name=devices.resource_name,
                            namespace=pod.namespace,
                            pod=pod.name,
                            container=container.name,
                        )
                        for device_id in devices.device_ids
                    ]
        return found
