"""One device plugin per resource: the DevicePlugin gRPC service on our socket in the kubelet's directory.

The kubelet's contract (k8s.io/kubelet pkg/apis/deviceplugin/v1beta1, and the
"Device plugin" page of the Kubernetes docs): the plugin serves on a unix socket in
/var/lib/kubelet/device-plugins, then calls Registration.Register on kubelet.sock
with that socket's file name; the kubelet dials back, asks GetDevicePluginOptions,
opens ListAndWatch and keeps it; every change of the device list is sent on that
stream (no polling period: `update` wakes the stream at once).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path

import grpc

from kvsriov.api.naming import pcidevice_env_name
from kvsriov.kubeletapi.deviceplugin.v1beta1 import api_pb2 as pb
from kvsriov.kubeletapi.deviceplugin.v1beta1 import api_pb2_grpc as pb_grpc
from kvsriov_agent.binding import VFIO_PCI, VfDriver
from kvsriov_agent.deviceplugin import devinfo, policy
from kvsriov_agent.deviceplugin.devices import Device

log = logging.getLogger(__name__)
API_VERSION = "v1beta1"
#: The kubelet gives Register this long (its own dial timeout is 10 s); we do not wait forever either.
REGISTER_TIMEOUT_S = 10.0
#: /dev/vfio/vfio is the VFIO container every VFIO user opens first (Documentation/driver-api/vfio.rst).
VFIO_CONTAINER = "/dev/vfio/vfio"


def endpoint_for(resource: str) -> str:
    """Our socket's file name in the kubelet's directory: `kvsriov-<name>.sock` (unique per resource)."""
    return f"kvsriov-{resource.split('/', 1)[1]}.sock"


class ResourcePlugin(pb_grpc.DevicePluginServicer):
    """Devices of one resource (one PF name on this node) and the gRPC server that serves them."""

    def __init__(
        self,
        resource: str,
        plugin_dir: Path,
        devinfo_dir: Path,
        on_allocate: Callable[[list[str]], None],
        executor: futures.ThreadPoolExecutor | None = None,
    ) -> None:
        self.resource = resource
        self.socket = plugin_dir / endpoint_for(resource)
        self.devinfo_dir = devinfo_dir
        self.driver: VfDriver = VFIO_PCI
        self.devices: dict[str, Device] = {}
        self._on_allocate = on_allocate
        #: Shared by every plugin of the agent: a pool per server costs memory and threads for nothing.
        self._executor = executor
        self._changed = threading.Condition()
        self._generation = 0
        self._server: grpc.Server | None = None
        self.registered_inode: int | None = None

    # -- state, from the agent ----------------------------------------------------------------

    def update(self, devices: dict[str, Device], driver: VfDriver) -> bool:
        """New device table; wakes every ListAndWatch stream when what the kubelet sees changed."""
        with self._changed:
            visible = _visible(devices) != _visible(self.devices)
            self.devices, self.driver = devices, driver
            if visible:
                self._generation += 1
                self._changed.notify_all()
            return visible

    # -- serving ------------------------------------------------------------------------------

    def serve(self) -> None:
        """(Re)create our socket and serve on it; a kubelet restart deletes the old one."""
        self.stop()
        self.socket.parent.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        # ListAndWatch holds one worker for as long as the kubelet keeps the stream.
        executor = self._executor or futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="dp")
        server = grpc.server(executor)
        pb_grpc.add_DevicePluginServicer_to_server(self, server)
        server.add_insecure_port(f"unix://{self.socket}")
        server.start()
        self._server = server

    def serving(self) -> bool:
        return self._server is not None and self.socket.exists()

    def stop(self) -> None:
        server, self._server = self._server, None
        with self._changed:
            self._generation += 1  # end the streams of the old server
            self._changed.notify_all()
        if server is not None:
            server.stop(grace=None).wait()

    def register(self, kubelet_socket: Path) -> None:
        """Registration.Register; raises grpc.RpcError when the kubelet refuses or is not there."""
        with grpc.insecure_channel(f"unix://{kubelet_socket}") as channel:
            pb_grpc.RegistrationStub(channel).Register(
                pb.RegisterRequest(
                    version=API_VERSION,
                    endpoint=self.socket.name,
                    resource_name=self.resource,
                    options=self._options(),
                ),
                timeout=REGISTER_TIMEOUT_S,
            )

    # -- the DevicePlugin service --------------------------------------------------------------

    def _options(self) -> pb.DevicePluginOptions:
        return pb.DevicePluginOptions(pre_start_required=False, get_preferred_allocation_available=True)

    def GetDevicePluginOptions(
        self, request: pb.Empty, context: grpc.ServicerContext
    ) -> pb.DevicePluginOptions:
        return self._options()

    def ListAndWatch(
        self, request: pb.Empty, context: grpc.ServicerContext
    ) -> Iterator[pb.ListAndWatchResponse]:
        """The current list at once, then a new list on every change, until the stream or server ends."""
        server = self._server

        def wake() -> None:
            with self._changed:
                self._changed.notify_all()

        context.add_callback(wake)
        with self._changed:
            seen = self._generation
            response = _response(self.devices)
        yield response
        while context.is_active():
            with self._changed:

                def changed(seen: int = seen) -> bool:  # a def, not a lambda: mypy types its default
                    return self._generation != seen or not context.is_active()

                self._changed.wait_for(changed)
                if self._server is not server:
                    return
                seen = self._generation
                response = _response(self.devices)
            if context.is_active():
                yield response

    def GetPreferredAllocation(
        self, request: pb.PreferredAllocationRequest, context: grpc.ServicerContext
    ) -> pb.PreferredAllocationResponse:
        devices = self.devices
        response = pb.PreferredAllocationResponse()
        for req in request.container_requests:
            chosen = policy.preferred(
                devices, list(req.available_deviceIDs), list(req.must_include_deviceIDs), req.allocation_size
            )
            response.container_responses.add(deviceIDs=chosen)
        return response

    def Allocate(self, request: pb.AllocateRequest, context: grpc.ServicerContext) -> pb.AllocateResponse:
        devices, driver = self.devices, self.driver
        wanted = [i for req in request.container_requests for i in req.devices_ids]
        unknown = [i for i in wanted if i not in devices]
        unhealthy = [i for i in wanted if i in devices and not devices[i].healthy]
        if unknown or unhealthy:
            parts = [f"unknown to {self.resource}: {', '.join(unknown)}"] if unknown else []
            parts += [f"unhealthy: {', '.join(unhealthy)}"] if unhealthy else []
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"cannot allocate {'; '.join(parts)}")
        response = pb.AllocateResponse()
        env = pcidevice_env_name(self.resource)
        for req in request.container_requests:
            ids = list(req.devices_ids)
            # PCIDEVICE_<RESOURCE> (the SR-IOV device plugin's convention): comma-separated PCI
            # addresses, read by DPDK pods and by older KubeVirt only; current KubeVirt reads the
            # VF from network-info, built from the device-info file (devinfo.py).
            out = response.container_responses.add(envs={env: ",".join(ids)})
            if driver == VFIO_PCI:
                out.devices.add(container_path=VFIO_CONTAINER, host_path=VFIO_CONTAINER, permissions="rw")
                for group in dict.fromkeys(devices[i].group for i in ids if devices[i].group):
                    path = f"/dev/vfio/{group}"
                    out.devices.add(container_path=path, host_path=path, permissions="rw")
            for i in ids:
                group = devices[i].group if driver == VFIO_PCI else None
                devinfo.write(self.devinfo_dir, self.resource, i, devices[i].pf_pci, group)
        self._on_allocate(wanted)
        return response

    def PreStartContainer(
        self, request: pb.PreStartContainerRequest, context: grpc.ServicerContext
    ) -> pb.PreStartContainerResponse:
        return pb.PreStartContainerResponse()  # not asked for (pre_start_required false)


def _visible(devices: dict[str, Device]) -> list[tuple[str, bool, int | None]]:
    return [(d.pci, d.healthy, d.numa) for d in devices.values()]


def _response(devices: dict[str, Device]) -> pb.ListAndWatchResponse:
    response = pb.ListAndWatchResponse()
    for d in devices.values():
        device = response.devices.add(ID=d.pci, health=d.health)
        if d.numa is not None:  # -1 in sysfs: no affinity; the kubelet then treats it as any node
            device.topology.nodes.add(ID=d.numa)
    return response
