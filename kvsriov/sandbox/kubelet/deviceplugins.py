"""A kubelet stand-in for device plugins: the kubelet's side of the v1beta1 API over real unix sockets.

It behaves like the kubelet's device manager (pkg/kubelet/cm/devicemanager):
- on start it deletes the sockets in its directory (a starting kubelet removes what
  earlier plugins left, so they must notice and re-register), then serves
  Registration on `kubelet.sock`;
- inside Register it dials the plugin's endpoint and calls GetDevicePluginOptions,
  then opens ListAndWatch and keeps the stream, recording every list it sends;
- admitting a pod it asks GetPreferredAllocation (when the options say it is
  available) for the healthy, unallocated devices, then Allocate, and records the
  allocation in the PodResources fixture (as the kubelet's PodResources API shows it);
- `restart` does all of that again, as after a kubelet restart.
"""

from __future__ import annotations

import threading
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from kvsriov.kubeletapi.deviceplugin.v1beta1 import api_pb2 as pb
from kvsriov.kubeletapi.deviceplugin.v1beta1 import api_pb2_grpc as pb_grpc
from kvsriov.kubeletapi.paths import KUBELET_SOCKET
from kvsriov.sandbox.kubelet.podresources import FakePodResources, pod_entry

DIAL_TIMEOUT_S = 10.0  # the kubelet's own dial timeout for plugins


@dataclass
class Endpoint:
    """One registered plugin, as the device manager keeps it."""

    resource: str
    channel: grpc.Channel
    options: pb.DevicePluginOptions
    #: device ID -> (health, NUMA nodes) from the latest ListAndWatch response.
    devices: dict[str, tuple[str, list[int]]] = field(default_factory=dict)
    updates: int = 0

    @property
    def stub(self) -> pb_grpc.DevicePluginStub:
        return pb_grpc.DevicePluginStub(self.channel)


class StandInKubelet(pb_grpc.RegistrationServicer):
    def __init__(self, directory: Path, pod_resources: FakePodResources | None = None) -> None:
        self.directory = directory
        self.pod_resources = pod_resources
        self.endpoints: dict[str, Endpoint] = {}
        self.registrations: list[str] = []
        #: (namespace, pod) -> {resource: [device IDs]}
        self.pods: dict[tuple[str, str], dict[str, list[str]]] = {}
        self.changed = threading.Condition()
        self._server: grpc.Server | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> StandInKubelet:
        self.directory.mkdir(parents=True, exist_ok=True)
        for path in self.directory.iterdir():
            if path.is_socket():
                path.unlink()  # devicemanager's removeContents(): plugins must re-register
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        pb_grpc.add_RegistrationServicer_to_server(self, server)
        server.add_insecure_port(f"unix://{self.directory / KUBELET_SOCKET}")
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None).wait()
            self._server = None
        with self.changed:
            for endpoint in self.endpoints.values():
                endpoint.channel.close()
            self.endpoints.clear()
            self.changed.notify_all()

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> StandInKubelet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- Registration ---------------------------------------------------------------------------

    def Register(self, request: pb.RegisterRequest, context: grpc.ServicerContext) -> pb.Empty:
        if request.version != "v1beta1":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unsupported version {request.version!r}")
        channel = grpc.insecure_channel(f"unix://{self.directory / request.endpoint}")
        try:
            options = pb_grpc.DevicePluginStub(channel).GetDevicePluginOptions(
                pb.Empty(), timeout=DIAL_TIMEOUT_S
            )
        except grpc.RpcError as err:
            channel.close()
            context.abort(grpc.StatusCode.UNAVAILABLE, f"cannot dial {request.endpoint}: {err}")
        endpoint = Endpoint(request.resource_name, channel, options)
        with self.changed:
            old = self.endpoints.get(request.resource_name)
            if old is not None:
                old.channel.close()  # a re-registration replaces the endpoint
            self.endpoints[request.resource_name] = endpoint
            self.registrations.append(request.resource_name)
            self.changed.notify_all()
        threading.Thread(target=self._list_and_watch, args=(endpoint,), daemon=True).start()
        return pb.Empty()

    def _list_and_watch(self, endpoint: Endpoint) -> None:
        try:
            for response in endpoint.stub.ListAndWatch(pb.Empty()):
                with self.changed:
                    endpoint.devices = {
                        d.ID: (d.health, [n.ID for n in d.topology.nodes]) for d in response.devices
                    }
                    endpoint.updates += 1
                    self.changed.notify_all()
        except grpc.RpcError:
            pass  # the plugin went away or we closed the channel; it must register again

    # -- what tests look at ---------------------------------------------------------------------

    def wait(self, predicate: object, timeout: float = 30.0, what: str = "") -> None:
        """Block until `predicate()` holds; woken by every registration and ListAndWatch update."""
        assert callable(predicate)
        with self.changed:
            if not self.changed.wait_for(predicate, timeout):
                raise TimeoutError(f"kubelet stand-in: timed out after {timeout:g} s waiting for {what}")

    def devices(self, resource: str) -> dict[str, tuple[str, list[int]]]:
        endpoint = self.endpoints.get(resource)
        return dict(endpoint.devices) if endpoint else {}

    def healthy(self, resource: str) -> list[str]:
        return sorted(i for i, (health, _) in self.devices(resource).items() if health == "Healthy")

    # -- pods -----------------------------------------------------------------------------------

    def allocated(self, resource: str) -> set[str]:
        return {i for pod in self.pods.values() for i in pod.get(resource, [])}

    def preferred(self, resource: str, size: int, must_include: list[str] | None = None) -> list[str]:
        endpoint = self.endpoints[resource]
        free = [i for i in self.healthy(resource) if i not in self.allocated(resource)]
        request = pb.PreferredAllocationRequest()
        request.container_requests.add(
            available_deviceIDs=free, must_include_deviceIDs=must_include or [], allocation_size=size
        )
        response = endpoint.stub.GetPreferredAllocation(request, timeout=DIAL_TIMEOUT_S)
        return list(response.container_responses[0].deviceIDs)

    def allocate(self, resource: str, device_ids: list[str]) -> pb.ContainerAllocateResponse:
        request = pb.AllocateRequest()
        request.container_requests.add(devices_ids=device_ids)
        response = self.endpoints[resource].stub.Allocate(request, timeout=DIAL_TIMEOUT_S)
        return response.container_responses[0]

    def admit(
        self, namespace: str, pod: str, resource: str, count: int
    ) -> tuple[list[str], pb.ContainerAllocateResponse]:
        """Admit a pod asking `count` devices: preferred allocation (if offered), Allocate, record."""
        endpoint = self.endpoints[resource]
        free = [i for i in self.healthy(resource) if i not in self.allocated(resource)]
        if len(free) < count:
            raise RuntimeError(f"UnexpectedAdmissionError: {resource}: {len(free)} free, {count} requested")
        chosen = (
            self.preferred(resource, count) if endpoint.options.get_preferred_allocation_available else []
        )
        chosen = chosen if len(chosen) == count else free[:count]
        response = self.allocate(resource, chosen)
        self.pods.setdefault((namespace, pod), {})[resource] = chosen
        self._publish()
        return chosen, response

    def delete_pod(self, namespace: str, pod: str) -> None:
        self.pods.pop((namespace, pod), None)
        self._publish()

    def _publish(self) -> None:
        if self.pod_resources is not None:
            self.pod_resources.set_pods([pod_entry(ns, name, devs) for (ns, name), devs in self.pods.items()])
