"""Building blocks for the operator tests: the real kopf operator in a thread, and cluster objects."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException

from kvsriov.api.constants import GROUP, LABEL_INTERFACE, LABEL_NODE, VERSION
from kvsriov.api.kinds import L2_PLURAL, L3_PLURAL, NIC_PLURAL
from kvsriov.api.naming import label_value, nic_object_name
from kvsriov_operator.cli import run
from kvsriov_operator.clients import Clients
from kvsriov_operator.render.nad import NAD_GROUP, NAD_PLURAL, NAD_VERSION
from kvsriov_operator.settings import Knobs

SELECTOR = {"kvsriov.io/sriov": "true"}


@contextmanager
def running_operator(api: kubernetes.client.ApiClient, knobs: Knobs | None = None) -> Iterator[Clients]:
    """The operator exactly as `kvsriov operator` runs it (standalone), embedded in a thread."""
    ready, stop = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    clients = Clients(api=api, knobs=knobs or Knobs())

    def target() -> None:
        try:
            run(clients, ready_flag=ready, stop_flag=stop)
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
            ready.set()

    thread = threading.Thread(target=target, name="kvsriov-operator", daemon=True)
    thread.start()
    assert ready.wait(30), "the operator did not become ready"
    assert not errors, f"the operator failed to start: {errors[0]!r}"
    try:
        yield clients
    finally:
        stop.set()
        thread.join(30)


class Cluster:
    """Thin verbs over the emulated API server, named after what a test says."""

    def __init__(self, api: kubernetes.client.ApiClient) -> None:
        self.custom = kubernetes.client.CustomObjectsApi(api)
        self.core = kubernetes.client.CoreV1Api(api)

    def node(self, name: str, labels: dict[str, str] | None = None) -> None:
        self.core.create_node({"metadata": {"name": name, "labels": labels or dict(SELECTOR)}})

    def nic(self, node: str, interface: str, virtualization: str = "Virtualized", num_vfs: int = 8) -> str:
        name = nic_object_name(node, interface)
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "SriovPhysicalNic",
            "metadata": {
                "name": name,
                "labels": {LABEL_NODE: label_value(node), LABEL_INTERFACE: label_value(interface)},
            },
            "spec": {"nodeName": node, "interface": interface, "numVfs": num_vfs},
        }
        self.custom.create_cluster_custom_object(GROUP, VERSION, NIC_PLURAL, body)
        self.nic_status(node, interface, virtualization, num_vfs)
        return name

    def nic_status(self, node: str, interface: str, virtualization: str, num_vfs: int = 8) -> None:
        """What the node agent would write (it owns NIC status; tests stand in for it)."""
        status = {
            "nodeName": node,
            "interface": interface,
            "virtualization": virtualization,
            "totalVfs": 63,
            "numVfs": num_vfs if virtualization == "Virtualized" else 0,
        }
        self.custom.patch_cluster_custom_object_status(
            GROUP, VERSION, NIC_PLURAL, nic_object_name(node, interface), {"status": status}
        )

    def l2(self, name: str, interface: str, vlan: int | None = None, sriov: bool = True) -> None:
        spec: dict[str, Any] = {
            "type": "Vlan" if vlan else "NoVlan",
            "physicalInterface": interface,
            "sriov": {"enabled": sriov},
            "nodeSelector": dict(SELECTOR),
        }
        if vlan:
            spec["vlan"] = vlan
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "SriovL2Network", "metadata": {"name": name}}
        self.custom.create_cluster_custom_object(GROUP, VERSION, L2_PLURAL, body | {"spec": spec})

    def l3(self, name: str, l2: str, namespaces: list[str] | None = None, octet: int = 100) -> None:
        spec = {
            "l2Network": l2,
            "ipam": {
                "cidr": f"192.168.{octet}.0/24",
                "ranges": [{"start": f"192.168.{octet}.10", "end": f"192.168.{octet}.200"}],
                "gateway": f"192.168.{octet}.1",
                "dns": [f"192.168.{octet}.1"],
            },
            "namespaces": namespaces or [],
        }
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "SriovL3Network", "metadata": {"name": name}}
        self.custom.create_cluster_custom_object(GROUP, VERSION, L3_PLURAL, body | {"spec": spec})

    def get(self, plural: str, name: str) -> dict[str, Any]:
        return self.custom.get_cluster_custom_object(GROUP, VERSION, plural, name)

    def patch(self, plural: str, name: str, patch: dict[str, Any]) -> None:
        self.custom.patch_cluster_custom_object(GROUP, VERSION, plural, name, patch)

    def condition(self, plural: str, name: str, type_: str) -> dict[str, Any]:
        conditions = (self.get(plural, name).get("status") or {}).get("conditions", [])
        return next((c for c in conditions if c["type"] == type_), {})

    def nad(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self.custom.get_namespaced_custom_object(
                NAD_GROUP, NAD_VERSION, namespace, NAD_PLURAL, name
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def nad_config(self, namespace: str, name: str) -> dict[str, Any] | None:
        nad = self.nad(namespace, name)
        return json.loads(nad["spec"]["config"]) if nad else None

    def gone(self, plural: str, name: str) -> bool:
        try:
            self.get(plural, name)
        except ApiException as exc:
            return exc.status == 404
        return False
