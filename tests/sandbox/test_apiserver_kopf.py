"""kopf 1.45, embedded, against the emulated and the real API server: create, update and delete flows.

On the real server kopf runs standalone (no peering) and keeps its progress in annotations, since
the Widget status schema is strict (REAL-APISERVER.md)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import kopf
import pytest
import yaml
from apiserver_helpers import GROUP, PLURAL, VERSION, widget
from kubernetes.client.exceptions import ApiException

from kvsriov.sandbox.wait import wait_for

pytestmark = pytest.mark.both_servers


def connection_info(kubeconfig: Path) -> kopf.ConnectionInfo:
    """kopf's connection from a one-context kubeconfig (token auth; a CA file on the real server)."""
    config = yaml.safe_load(kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    token = config["users"][0]["user"]["token"]
    ca = cluster.get("certificate-authority")
    return kopf.ConnectionInfo(
        server=cluster["server"], ca_path=ca, insecure=ca is None, scheme="Bearer", token=token
    )


@pytest.fixture
def operator(kubeconfig: Path) -> Iterator[list[str]]:
    """A tiny kopf operator for Widgets, run embedded in a thread; yields the names it saw deleted."""
    registry = kopf.OperatorRegistry()
    deleted: list[str] = []
    info = connection_info(kubeconfig)

    @kopf.on.login(registry=registry)
    def login(**_: object) -> kopf.ConnectionInfo:
        return info

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: object) -> None:
        settings.watching.server_timeout = 30
        settings.posting.enabled = True
        # the Widget status schema prunes status.kopf: keep progress where a real server keeps it
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage()

    @kopf.on.create(GROUP, VERSION, PLURAL, registry=registry)
    def on_create(spec: dict, patch: kopf.Patch, **_: object) -> None:
        patch.status["phase"] = f"Created{spec['size']}"

    @kopf.on.update(GROUP, VERSION, PLURAL, registry=registry)
    def on_update(spec: dict, patch: kopf.Patch, **_: object) -> None:
        patch.status["phase"] = f"Updated{spec['size']}"

    @kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry)
    def on_delete(name: str, **_: object) -> None:
        deleted.append(name)

    ready, stop = threading.Event(), threading.Event()

    def run() -> None:
        asyncio.run(
            kopf.operator(
                registry=registry, clusterwide=True, standalone=True, ready_flag=ready, stop_flag=stop
            )
        )

    thread = threading.Thread(target=run, name="kopf-operator", daemon=True)
    thread.start()
    assert ready.wait(20), "kopf did not become ready"
    try:
        yield deleted
    finally:
        stop.set()
        thread.join(20)


def phase(custom, name: str) -> str | None:
    return custom.get_cluster_custom_object(GROUP, VERSION, PLURAL, name).get("status", {}).get("phase")


def test_kopf_handles_create(operator, custom):
    custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, widget("a", size=1))
    wait_for(lambda: phase(custom, "a") == "Created1", timeout=20, what="kopf's create handler to set status")


def test_kopf_handles_update(operator, custom):
    custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, widget("a", size=1))
    wait_for(lambda: phase(custom, "a") == "Created1", timeout=20, what="kopf's create handler")
    custom.patch_cluster_custom_object(GROUP, VERSION, PLURAL, "a", {"spec": {"size": 2}})
    wait_for(lambda: phase(custom, "a") == "Updated2", timeout=20, what="kopf's update handler to set status")


def test_kopf_handles_delete_through_its_finalizer(operator, custom):
    custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, widget("a", size=1))
    wait_for(
        lambda: custom.get_cluster_custom_object(GROUP, VERSION, PLURAL, "a")["metadata"].get("finalizers"),
        timeout=20,
        what="kopf to add its finalizer",
    )
    custom.delete_cluster_custom_object(GROUP, VERSION, PLURAL, "a")

    def gone() -> bool:
        try:
            custom.get_cluster_custom_object(GROUP, VERSION, PLURAL, "a")
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_for(gone, timeout=20, what="the widget to be deleted once kopf removed its finalizer")
    assert operator == ["a"]
