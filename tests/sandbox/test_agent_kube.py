"""The agent's stdlib Kubernetes client against the emulated API server (real HTTP)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from kvsriov.api.constants import GROUP, VERSION
from kvsriov.api.kinds import HOST_PLURAL, NIC_PLURAL
from kvsriov.sandbox.apiserver.server import EmulatedApiServer
from kvsriov.sandbox.wait import wait_for
from kvsriov_agent.kube import ApiError, KubeClient, ResourcePath, load_config
from kvsriov_agent.kube.client import Obj
from kvsriov_agent.kube.events import EVENTS, EventRecorder
from kvsriov_agent.kube.watch import Watcher

NICS = ResourcePath(GROUP, VERSION, NIC_PLURAL)
HOSTS = ResourcePath(GROUP, VERSION, HOST_PLURAL)


def nic(node: str, ifname: str) -> Obj:
    return {
        "apiVersion": "kvsriov.io/v1alpha1",
        "kind": "SriovPhysicalNic",
        "metadata": {"name": f"{node}.{ifname}", "labels": {"kvsriov.io/node": node}},
        "spec": {"nodeName": node, "interface": ifname},
    }


@pytest.fixture
def client(kubeconfig: Path) -> KubeClient:
    return KubeClient(load_config(str(kubeconfig)))


def test_crud_status_and_selectors(client: KubeClient) -> None:
    client.create(NICS, nic("node-1", "em1"))
    client.create(NICS, nic("node-2", "em1"))
    got = client.get(NICS, "node-1.em1")
    assert got["spec"]["numVfs"] == 0  # defaulted by the CRD schema
    names = [
        o["metadata"]["name"] for o in client.list(NICS, label_selector="kvsriov.io/node=node-1")["items"]
    ]
    assert names == ["node-1.em1"]
    client.create(
        HOSTS, {"apiVersion": "kvsriov.io/v1alpha1", "kind": "SriovHost", "metadata": {"name": "n"}}
    )
    assert [o["metadata"]["name"] for o in client.list(HOSTS, field_selector="metadata.name=n")["items"]] == [
        "n"
    ]

    patched = client.merge_patch(NICS, "node-1.em1", {"spec": {"numVfs": 4}})
    assert patched["metadata"]["generation"] == 2
    status = client.patch_status(NICS, "node-1.em1", {"status": {"totalVfs": 63, "numVfs": 0}})
    assert status["status"]["totalVfs"] == 63
    assert status["metadata"]["generation"] == 2  # status never bumps the generation
    with pytest.raises(ApiError) as err:
        client.get(NICS, "nope")
    assert err.value.status == 404
    assert client.get_or_none(NICS, "nope") is None


def test_events_are_created_and_counted(client: KubeClient) -> None:
    obj = client.create(NICS, nic("node-1", "em1"))
    recorder = EventRecorder(client, "kvsriov-agent", "node-1")
    recorder.record(obj, "Warning", "Refused", "numVfs 99 exceeds 63")
    recorder.record(obj, "Warning", "Refused", "numVfs 99 exceeds 63")
    events = client.list(EVENTS, namespace="default")["items"]
    assert len(events) == 1
    event = events[0]
    assert (event["reason"], event["type"], event["count"]) == ("Refused", "Warning", 2)
    assert event["involvedObject"]["name"] == "node-1.em1"
    assert event["involvedObject"]["kind"] == "SriovPhysicalNic"


def test_watch_follows_selector_and_survives_an_outage(
    apiserver: EmulatedApiServer, client: KubeClient
) -> None:
    seen: list[tuple[str, str]] = []
    lock = threading.Lock()

    def on_event(kind: str, obj: Obj | None) -> None:
        with lock:
            seen.append((kind, obj["metadata"]["name"] if obj else ""))

    watcher = Watcher(client, NICS, on_event, label_selector="kvsriov.io/node=node-1")
    watcher.start()
    try:
        assert watcher.synced.wait(10)
        client.create(NICS, nic("node-2", "em1"))
        client.create(NICS, nic("node-1", "em1"))
        wait_for(lambda: "node-1.em1" in watcher.snapshot(), what="the watch to deliver node-1.em1")
        assert "node-2.em1" not in watcher.snapshot()  # filtered by the server

        apiserver.stop()  # outage: the watch breaks, reconnects are refused for a while
        wait_for(lambda: apiserver._thread is None, what="the server to stop")
        apiserver.start()  # same store and port: like an API server restart over the same etcd
        client.create(NICS, nic("node-1", "em2"))
        wait_for(
            lambda: set(watcher.snapshot()) == {"node-1.em1", "node-1.em2"},
            timeout=30,
            what="the watch to resume after the outage",
        )
    finally:
        watcher.stop()
    with lock:
        assert ("ADDED", "node-1.em1") in seen
        assert all(name != "node-2.em1" for _, name in seen)
