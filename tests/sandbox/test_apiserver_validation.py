"""Schema validation of custom objects (through kvsriov.sandbox.apiserver.validation).

These depend on validation.py being implemented; until then they fail.
"""

from __future__ import annotations

import json

import pytest
from apiserver_helpers import GROUP, PLURAL, VERSION, raw, widget
from kubernetes.client.exceptions import ApiException


def refused(custom, body, **kwargs) -> tuple[int, dict]:
    with pytest.raises(ApiException) as err:
        custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, body, **kwargs)
    return err.value.status, json.loads(err.value.body)


def test_cel_rule_refuses_with_its_message(custom):
    status, body = refused(custom, widget("bad", size=1, mode="NoVlan", vlan=5))
    assert status == 422 and body["reason"] == "Invalid"
    assert body["message"].startswith('Widget.example.kvsriov.io "bad" is invalid: spec')
    assert "vlan is only allowed with mode Vlan" in body["message"]
    assert body["details"]["name"] == "bad" and body["details"]["kind"] == "Widget"
    assert body["details"]["group"] == GROUP
    assert [c["field"] for c in body["details"]["causes"]] == ["spec"]


def test_maximum_refused_with_field(custom):
    status, body = refused(custom, widget("big", size=65))
    assert status == 422
    assert [c["field"] for c in body["details"]["causes"]] == ["spec.size"]


def test_enum_refused(custom):
    status, body = refused(custom, widget("odd", size=1, mode="Vxlan"))
    assert status == 422 and body["details"]["causes"][0]["field"] == "spec.mode"


def test_defaults_are_applied(custom):
    created = custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, widget("d", size=1))
    assert created["spec"]["mode"] == "NoVlan"


def test_unknown_field_with_strict_is_400(custom):
    status, body = refused(custom, widget("u", size=1, foo="x"), field_validation="Strict")
    assert status == 400 and body["reason"] == "BadRequest"
    assert body["message"] == (
        'Widget in version "v1" cannot be handled as a Widget: '
        'strict decoding error: unknown field "spec.foo"'
    )


def test_unknown_field_with_warn_is_dropped_with_warning(apiserver):
    status, headers, obj = raw(
        apiserver.url,
        "POST",
        f"/apis/{GROUP}/{VERSION}/{PLURAL}?fieldValidation=Warn",
        widget("u", size=1, foo="x"),
    )
    assert status == 201 and "foo" not in obj["spec"]
    assert headers["Warning"] == '299 - "unknown field \\"spec.foo\\""'


def test_unknown_field_with_ignore_is_dropped_silently(apiserver):
    status, headers, obj = raw(
        apiserver.url,
        "POST",
        f"/apis/{GROUP}/{VERSION}/{PLURAL}?fieldValidation=Ignore",
        widget("u", size=1, foo="x"),
    )
    assert status == 201 and "foo" not in obj["spec"] and "Warning" not in headers


def test_update_is_validated_too(custom):
    custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, widget("a", size=1))
    with pytest.raises(ApiException) as err:
        custom.patch_cluster_custom_object(GROUP, VERSION, PLURAL, "a", {"spec": {"size": 0}})
    assert err.value.status == 422
