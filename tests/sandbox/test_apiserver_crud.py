"""CRUD semantics of the emulated API server through the official kubernetes client."""

from __future__ import annotations

import json

import kubernetes
import pytest
from apiserver_helpers import GROUP, PLURAL, VERSION, raw, widget
from kubernetes.client.exceptions import ApiException


def create(custom: kubernetes.client.CustomObjectsApi, body: dict) -> dict:
    return custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, body)


def get(custom: kubernetes.client.CustomObjectsApi, name: str) -> dict:
    return custom.get_cluster_custom_object(GROUP, VERSION, PLURAL, name)


def test_create_assigns_server_fields(custom):
    obj = create(custom, widget("a", size=3))
    meta = obj["metadata"]
    assert meta["uid"] and meta["generation"] == 1
    assert meta["creationTimestamp"].endswith("Z")
    assert int(meta["resourceVersion"]) > 0
    assert get(custom, "a")["spec"]["size"] == 3


def test_resource_version_is_global_and_monotonic(custom, core):
    first = int(create(custom, widget("a"))["metadata"]["resourceVersion"])
    cm = core.create_namespaced_config_map("default", {"metadata": {"name": "c"}, "data": {"k": "v"}})
    second = int(create(custom, widget("b"))["metadata"]["resourceVersion"])
    assert first < int(cm.metadata.resource_version) < second


def test_get_missing_is_404_with_details(custom):
    with pytest.raises(ApiException) as err:
        get(custom, "nope")
    body = json.loads(err.value.body)
    assert err.value.status == 404 and body["reason"] == "NotFound"
    assert body["message"] == 'widgets.example.kvsriov.io "nope" not found'
    assert body["details"] == {"name": "nope", "group": GROUP, "kind": "widgets"}


def test_create_existing_is_409_already_exists(custom):
    create(custom, widget("a"))
    with pytest.raises(ApiException) as err:
        create(custom, widget("a"))
    assert err.value.status == 409 and json.loads(err.value.body)["reason"] == "AlreadyExists"


def test_list_with_label_selector(custom):
    create(custom, widget("a", labels={"tier": "gold", "zone": "x"}))
    create(custom, widget("b", labels={"tier": "silver"}))
    create(custom, widget("c"))

    def names(selector: str) -> list[str]:
        items = custom.list_cluster_custom_object(GROUP, VERSION, PLURAL, label_selector=selector)["items"]
        return [i["metadata"]["name"] for i in items]

    assert names("tier=gold") == ["a"]
    assert names("tier!=gold") == ["b", "c"]
    assert names("tier in (gold,silver)") == ["a", "b"]
    assert names("tier notin (gold)") == ["b", "c"]
    assert names("zone") == ["a"]
    assert names("!tier") == ["c"]


def test_list_carries_store_resource_version(custom):
    created = create(custom, widget("a"))
    listed = custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)
    assert listed["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_list_with_field_selector(core):
    core.create_namespaced_pod(
        "default",
        {"metadata": {"name": "p1"}, "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}]}},
    )
    core.create_namespaced_pod(
        "default",
        {"metadata": {"name": "p2"}, "spec": {"nodeName": "n2", "containers": [{"name": "c", "image": "i"}]}},
    )
    pods = core.list_pod_for_all_namespaces(field_selector="spec.nodeName=n2").items
    assert [p.metadata.name for p in pods] == ["p2"]
    pods = core.list_namespaced_pod("default", field_selector="metadata.name!=p2").items
    assert [p.metadata.name for p in pods] == ["p1"]


def test_list_pages_with_limit_and_continue(core):
    for i in range(5):
        core.create_namespaced_config_map("default", {"metadata": {"name": f"c{i}"}})
    first = core.list_namespaced_config_map("default", limit=2)
    assert len(first.items) == 2 and first.metadata._continue
    rest = core.list_namespaced_config_map("default", limit=10, _continue=first.metadata._continue)
    assert [c.metadata.name for c in first.items + rest.items] == [f"c{i}" for i in range(5)]


def test_merge_patch(custom):
    create(custom, widget("a", size=1, mode="NoVlan", note="x"))
    patched = custom.patch_cluster_custom_object(
        GROUP,
        VERSION,
        PLURAL,
        "a",
        {"spec": {"size": 2, "note": None}},
        _content_type="application/merge-patch+json",
    )
    assert patched["spec"] == {"size": 2, "mode": "NoVlan"}


def test_json_patch(custom):
    create(custom, widget("a", size=1, mode="NoVlan"))
    ops = [
        {"op": "replace", "path": "/spec/size", "value": 5},
        {"op": "add", "path": "/spec/note", "value": "n"},
    ]
    patched = custom.patch_cluster_custom_object(
        GROUP, VERSION, PLURAL, "a", ops, _content_type="application/json-patch+json"
    )
    assert patched["spec"] == {"size": 5, "mode": "NoVlan", "note": "n"}


def test_replace_with_stale_resource_version_is_409(custom):
    stale = create(custom, widget("a", size=1))
    custom.patch_cluster_custom_object(GROUP, VERSION, PLURAL, "a", {"spec": {"size": 2}})
    stale["spec"]["size"] = 3
    with pytest.raises(ApiException) as err:
        custom.replace_cluster_custom_object(GROUP, VERSION, PLURAL, "a", stale)
    body = json.loads(err.value.body)
    assert err.value.status == 409 and body["reason"] == "Conflict"
    assert body["message"] == (
        'Operation cannot be fulfilled on widgets.example.kvsriov.io "a": the object has '
        "been modified; please apply your changes to the latest version and try again"
    )


def test_replace_with_current_resource_version_succeeds(custom):
    current = create(custom, widget("a", size=1))
    current["spec"]["size"] = 3
    replaced = custom.replace_cluster_custom_object(GROUP, VERSION, PLURAL, "a", current)
    assert replaced["spec"]["size"] == 3
    assert int(replaced["metadata"]["resourceVersion"]) > int(current["metadata"]["resourceVersion"])


def test_status_write_does_not_change_spec(custom):
    create(custom, widget("a", size=1))
    custom.patch_cluster_custom_object_status(
        GROUP, VERSION, PLURAL, "a", {"spec": {"size": 9}, "status": {"phase": "Ready"}}
    )
    obj = get(custom, "a")
    assert obj["spec"]["size"] == 1 and obj["status"]["phase"] == "Ready"


def test_spec_write_does_not_change_status(custom):
    create(custom, widget("a", size=1))
    custom.patch_cluster_custom_object_status(GROUP, VERSION, PLURAL, "a", {"status": {"phase": "Ready"}})
    custom.patch_cluster_custom_object(
        GROUP, VERSION, PLURAL, "a", {"spec": {"size": 2}, "status": {"phase": "X"}}
    )
    obj = get(custom, "a")
    assert obj["spec"]["size"] == 2 and obj["status"]["phase"] == "Ready"


def test_create_drops_status_when_status_is_a_subresource(custom):
    body = widget("a")
    body["status"] = {"phase": "Forged"}
    assert "status" not in create(custom, body)


def test_generation_bumps_on_spec_changes_only(custom):
    create(custom, widget("a", size=1))
    assert (
        custom.patch_cluster_custom_object(GROUP, VERSION, PLURAL, "a", {"spec": {"size": 2}})["metadata"][
            "generation"
        ]
        == 2
    )
    labelled = custom.patch_cluster_custom_object(
        GROUP, VERSION, PLURAL, "a", {"metadata": {"labels": {"l": "v"}}}
    )
    assert labelled["metadata"]["generation"] == 2
    status = custom.patch_cluster_custom_object_status(
        GROUP, VERSION, PLURAL, "a", {"status": {"phase": "R"}}
    )
    assert status["metadata"]["generation"] == 2


def test_noop_write_keeps_resource_version(custom):
    created = create(custom, widget("a", size=1))
    same = custom.patch_cluster_custom_object(GROUP, VERSION, PLURAL, "a", {"spec": {"size": 1}})
    assert same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_delete_without_finalizers_removes(custom):
    create(custom, widget("a"))
    custom.delete_cluster_custom_object(GROUP, VERSION, PLURAL, "a")
    with pytest.raises(ApiException) as err:
        get(custom, "a")
    assert err.value.status == 404


def test_delete_with_finalizer_marks_then_removes_when_finalizer_goes(custom):
    body = widget("a")
    body["metadata"]["finalizers"] = ["example.kvsriov.io/cleanup"]
    create(custom, body)
    custom.delete_cluster_custom_object(GROUP, VERSION, PLURAL, "a")
    marked = get(custom, "a")
    assert marked["metadata"]["deletionTimestamp"].endswith("Z")
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 0
    custom.patch_cluster_custom_object(GROUP, VERSION, PLURAL, "a", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as err:
        get(custom, "a")
    assert err.value.status == 404


def test_namespaced_create_needs_existing_namespace(core):
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("missing", {"metadata": {"name": "c"}})
    assert err.value.status == 404
    assert json.loads(err.value.body)["message"] == 'namespaces "missing" not found'


def test_default_namespaces_exist(core):
    names = {ns.metadata.name for ns in core.list_namespace().items}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names


def test_builtin_generation_bumps_on_spec_change(core):
    core.create_node({"metadata": {"name": "n1"}, "spec": {"unschedulable": False}})
    node = core.patch_node("n1", {"spec": {"unschedulable": True}})
    assert node.metadata.generation == 2


def test_pod_status_subresource(core):
    core.create_namespaced_pod(
        "default",
        {"metadata": {"name": "p"}, "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}]}},
    )
    core.patch_namespaced_pod_status("p", "default", {"status": {"phase": "Running"}})
    pod = core.read_namespaced_pod("p", "default")
    assert pod.status.phase == "Running" and pod.spec.node_name == "n1"


def test_server_side_apply_creates_and_removes_dropped_fields(apiserver):
    path = f"/apis/{GROUP}/{VERSION}/{PLURAL}/a?fieldManager=tool"
    applied = widget("a", size=2, mode="NoVlan", note="n")
    status, _, obj = raw(apiserver.url, "PATCH", path, applied, "application/apply-patch+yaml")
    assert status == 201 and obj["spec"] == {"size": 2, "mode": "NoVlan", "note": "n"}
    applied["spec"] = {"size": 3, "mode": "NoVlan"}
    status, _, obj = raw(apiserver.url, "PATCH", path, applied, "application/apply-patch+yaml")
    assert status == 200 and obj["spec"] == {"size": 3, "mode": "NoVlan"}
    assert [m["manager"] for m in obj["metadata"]["managedFields"]] == ["tool"]


def test_server_side_apply_needs_field_manager(apiserver):
    status, _, body = raw(
        apiserver.url,
        "PATCH",
        f"/apis/{GROUP}/{VERSION}/{PLURAL}/a",
        widget("a"),
        "application/apply-patch+yaml",
    )
    # as kube-apiserver 1.34 answers (tests/sandbox/conformance): 422 on PatchOptions
    assert status == 422 and body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "fieldManager"


def test_crd_creation_serves_new_resource(kube_client, custom):
    ext = kubernetes.client.ApiextensionsV1Api(kube_client)
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.kvsriov.io"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                    },
                }
            ],
        },
    }
    created = ext.create_custom_resource_definition(crd)
    conditions = {c.type: c.status for c in created.status.conditions}
    assert conditions == {"Established": "True", "NamesAccepted": "True"}
    custom.create_namespaced_custom_object(
        GROUP,
        "v1",
        "default",
        "gadgets",
        {"apiVersion": f"{GROUP}/v1", "kind": "Gadget", "metadata": {"name": "g"}},
    )
    resources = kubernetes.client.CustomObjectsApi(kube_client).get_api_resources(GROUP, "v1")
    assert "gadgets" in {r.name for r in resources.resources}
    ext.delete_custom_resource_definition("gadgets.example.kvsriov.io")
    with pytest.raises(ApiException) as err:
        custom.list_namespaced_custom_object(GROUP, "v1", "default", "gadgets")
    assert err.value.status == 404


def test_health_and_version(apiserver, kube_client):
    for path in ("/healthz", "/readyz", "/livez"):
        with __import__("urllib.request").request.urlopen(apiserver.url + path, timeout=5) as response:
            assert response.status == 200
    info = kubernetes.client.VersionApi(kube_client).get_code()
    assert info.major == "1"
