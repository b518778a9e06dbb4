"""Watch semantics of the emulated API server through the official kubernetes client."""

from __future__ import annotations

import threading
from pathlib import Path

import kubernetes
import pytest
from apiserver_helpers import DATA, GROUP, PLURAL, VERSION, widget
from kubernetes.client.exceptions import ApiException

from kvsriov.sandbox.apiserver.server import EmulatedApiServer


def collect(custom, until: str, **kwargs) -> list[tuple[str, str]]:
    """(type, name) of watch events up to and including the first event for object ``until``."""
    events = []
    watch = kubernetes.watch.Watch()
    for event in watch.stream(
        custom.list_cluster_custom_object, GROUP, VERSION, PLURAL, timeout_seconds=10, **kwargs
    ):
        name = event["object"]["metadata"]["name"]
        events.append((event["type"], name))
        if name == until:
            watch.stop()
    return events


def create(custom, body):
    return custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, body)


def test_watch_from_scratch_lists_current_objects_as_added(custom):
    create(custom, widget("a"))
    create(custom, widget("b"))
    assert collect(custom, until="b") == [("ADDED", "a"), ("ADDED", "b")]


def test_watch_resumed_from_resource_version_gets_exactly_later_events(custom):
    rv = create(custom, widget("a"))["metadata"]["resourceVersion"]
    custom.patch_cluster_custom_object(GROUP, VERSION, PLURAL, "a", {"spec": {"size": 2}})
    create(custom, widget("b"))
    custom.delete_cluster_custom_object(GROUP, VERSION, PLURAL, "a")
    create(custom, widget("marker"))
    events = collect(custom, until="marker", resource_version=rv)
    assert events == [("MODIFIED", "a"), ("ADDED", "b"), ("DELETED", "a"), ("ADDED", "marker")]


def test_watch_receives_live_events(custom):
    create(custom, widget("a"))
    seen: list[tuple[str, str]] = []
    ready = threading.Event()

    def run() -> None:
        watch = kubernetes.watch.Watch()
        for event in watch.stream(
            custom.list_cluster_custom_object, GROUP, VERSION, PLURAL, timeout_seconds=10
        ):
            seen.append((event["type"], event["object"]["metadata"]["name"]))
            ready.set()
            if event["object"]["metadata"]["name"] == "b":
                watch.stop()

    thread = threading.Thread(target=run)
    thread.start()
    assert ready.wait(10), "the watch did not deliver the initial object"
    create(custom, widget("b"))
    thread.join(15)
    assert seen == [("ADDED", "a"), ("ADDED", "b")]


def test_watch_with_label_selector_filters(custom):
    rv = create(custom, widget("a", labels={"app": "x"}))["metadata"]["resourceVersion"]
    create(custom, widget("b", labels={"app": "y"}))
    create(custom, widget("c", labels={"app": "x"}))
    assert collect(custom, until="c", label_selector="app=x", resource_version=rv) == [("ADDED", "c")]


def test_selector_watch_sends_deleted_and_added_on_label_transitions(custom):
    rv = create(custom, widget("a", labels={"app": "x"}))["metadata"]["resourceVersion"]
    custom.patch_cluster_custom_object(GROUP, VERSION, PLURAL, "a", {"metadata": {"labels": {"app": "y"}}})
    custom.patch_cluster_custom_object(GROUP, VERSION, PLURAL, "a", {"metadata": {"labels": {"app": "x"}}})
    create(custom, widget("marker", labels={"app": "x"}))
    events = collect(custom, until="marker", label_selector="app=x", resource_version=rv)
    assert events == [("DELETED", "a"), ("ADDED", "a"), ("ADDED", "marker")]


def test_watch_from_compacted_resource_version_is_410(tmp_path: Path):
    with EmulatedApiServer(crd_dirs=[DATA], history_size=3) as server:
        client = kubernetes.config.new_client_from_config(str(server.write_kubeconfig(tmp_path / "kc")))
        custom = kubernetes.client.CustomObjectsApi(client)
        old_rv = create(custom, widget("a"))["metadata"]["resourceVersion"]
        for i in range(5):
            create(custom, widget(f"w{i}"))
        with pytest.raises(ApiException) as err:
            collect(custom, until="never", resource_version=old_rv)
        assert err.value.status == 410
        client.close()


def test_watch_ends_when_server_stops(tmp_path: Path):
    server = EmulatedApiServer(crd_dirs=[DATA]).start()
    client = kubernetes.config.new_client_from_config(str(server.write_kubeconfig(tmp_path / "kc")))
    custom = kubernetes.client.CustomObjectsApi(client)
    create(custom, widget("a"))
    started, finished = threading.Event(), threading.Event()

    def run() -> None:
        try:
            for _ in kubernetes.watch.Watch().stream(
                custom.list_cluster_custom_object, GROUP, VERSION, PLURAL, timeout_seconds=60
            ):
                started.set()
        except Exception:
            pass
        finished.set()

    threading.Thread(target=run, daemon=True).start()
    assert started.wait(10)
    server.stop()
    assert finished.wait(10), "the watch stream did not end when the server stopped"
    client.close()
