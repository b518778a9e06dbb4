"""Pure-logic pieces of the emulated API server: selectors, patches, the store's history."""

from __future__ import annotations

import pytest

from kvsriov.sandbox.apiserver.errors import ApiError
from kvsriov.sandbox.apiserver.patch import (
    decode_fields,
    encode_fields,
    merge_patch,
    server_side_apply,
    strategic_merge_patch,
)
from kvsriov.sandbox.apiserver.selectors import parse_field_selector, parse_label_selector
from kvsriov.sandbox.apiserver.store import Store


def labelled(**labels: str) -> dict:
    return {"metadata": {"labels": labels}}


def test_label_selector_operators():
    match = parse_label_selector("a=1,b!=2,c in (x, y),d notin (z),e,!f")
    assert match(labelled(a="1", b="3", c="x", d="q", e=""))
    assert not match(labelled(a="1", b="3", c="x", d="q", e="", f="1"))
    assert not match(labelled(a="1", b="2", c="x", e=""))


def test_field_selector_on_nested_paths():
    match = parse_field_selector("involvedObject.name=a,involvedObject.namespace=")
    assert match({"involvedObject": {"name": "a"}})
    assert not match({"involvedObject": {"name": "a", "namespace": "ns"}})


def test_merge_patch_rfc7386():
    assert merge_patch({"a": {"b": 1, "c": 2}, "l": [1]}, {"a": {"b": None, "d": 3}, "l": [2]}) == {
        "a": {"c": 2, "d": 3},
        "l": [2],
    }


def test_strategic_patch_drops_directives():
    patched = strategic_merge_patch({"spec": {"x": 1}}, {"spec": {"y": 2}, "$setElementOrder/c": []})
    assert patched == {"spec": {"x": 1, "y": 2}}


def test_fields_v1_round_trip():
    paths = {("spec", "size"), ("metadata", "labels", "a")}
    assert decode_fields(encode_fields(paths)) == paths


def test_apply_removes_only_fields_the_manager_dropped():
    obj = server_side_apply(None, {"metadata": {"name": "a"}, "spec": {"x": 1, "y": 2}}, "m1")
    obj["spec"]["z"] = 3  # set by someone else
    obj = server_side_apply(obj, {"metadata": {"name": "a"}, "spec": {"x": 5}}, "m1")
    assert obj["spec"] == {"x": 5, "z": 3}


def test_store_history_expires():
    store = Store(history_size=2)
    for i in range(4):
        store.commit(("g", "things"), {"metadata": {"name": f"n{i}"}}, None)
    with pytest.raises(ApiError) as err:
        store.watch(("g", "things"), None, since=1)
    assert err.value.code == 410
    replay, _ = store.watch(("g", "things"), None, since=2)
    assert [e.rv for e in replay] == [3, 4]
