"""A kubelet PodResources v1 server over a real unix socket, answering from a fixture.

The fixture is a JSON file re-read on every `List`, so a test changes what the
"kubelet" reports by rewriting the file (or by `set_pods`), without restarting:
`[{"namespace": "vms", "name": "virt-launcher-vm1-abcde",
   "devices": {"kvsriov.io/em1": ["0000:03:10.0"]}}]`.
"""

from __future__ import annotations

import json
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc

from kvsriov.kubeletapi.podresources.v1 import api_pb2, api_pb2_grpc


def pod_entry(namespace: str, name: str, devices: dict[str, list[str]]) -> dict[str, Any]:
    return {"namespace": namespace, "name": name, "devices": devices}


class _Lister(api_pb2_grpc.PodResourcesListerServicer):
    def __init__(self, fixture: Path) -> None:
        self.fixture = fixture

    def List(
        self, request: api_pb2.ListPodResourcesRequest, context: grpc.ServicerContext
    ) -> api_pb2.ListPodResourcesResponse:
        pods = json.loads(self.fixture.read_text()) if self.fixture.exists() else []
        response = api_pb2.ListPodResourcesResponse()
        for pod in pods:
            entry = response.pod_resources.add(name=pod["name"], namespace=pod["namespace"])
            container = entry.containers.add(name=pod.get("container", "compute"))
            for resource, ids in pod.get("devices", {}).items():
                container.devices.add(resource_name=resource, device_ids=ids)
        return response


class FakePodResources:
    """Serves PodResourcesLister on `socket_path` from `fixture` until stopped."""

    def __init__(self, socket_path: Path, fixture: Path) -> None:
        self.socket_path = socket_path
        self.fixture = fixture
        self._server: grpc.Server | None = None

    def set_pods(self, pods: list[dict[str, Any]]) -> None:
        tmp = self.fixture.with_suffix(".tmp")
        tmp.write_text(json.dumps(pods))
        tmp.replace(self.fixture)  # atomic: a concurrent List never reads half a file

    def start(self) -> FakePodResources:
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        api_pb2_grpc.add_PodResourcesListerServicer_to_server(_Lister(self.fixture), server)
        server.add_insecure_port(f"unix://{self.socket_path}")
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None).wait()
            self._server = None
        self.socket_path.unlink(missing_ok=True)

    def __enter__(self) -> FakePodResources:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
