"""x-kubernetes-validations (CEL) rules, evaluated and reported as a k8s 1.32 server does."""

from __future__ import annotations

from typing import Any

import pytest

from kvsriov.sandbox.apiserver import cel as celrules
from kvsriov.sandbox.apiserver.validation import validate


def crd_schema(spec: dict[str, Any], **root: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
        },
        **root,
    }


def obj(spec: Any, name: str = "a") -> dict[str, Any]:
    return {"apiVersion": "x.io/v1", "kind": "Thing", "metadata": {"name": name}, "spec": spec}


def spec_with_rules(rules: list[dict[str, Any]], **props: Any) -> dict[str, Any]:
    properties = {
        "vlan": {"type": "integer"},
        "mode": {"type": "string"},
        "cidr": {"type": "string"},
        "gateway": {"type": "string"},
        "ranges": {"type": "array", "items": {"type": "object", "properties": {"start": {"type": "string"}}}},
        **props,
    }
    return crd_schema({"type": "object", "properties": properties, "x-kubernetes-validations": rules})


def only(causes: list[dict[str, str]]) -> dict[str, str]:
    assert len(causes) == 1, causes
    return causes[0]


def test_rule_true_accepts() -> None:
    schema = spec_with_rules([{"rule": "self.vlan <= 4094"}])
    assert validate(schema, obj({"vlan": 10})) == []


def test_rule_false_with_message() -> None:
    schema = spec_with_rules([{"rule": "self.vlan <= 4094", "message": "vlan too big"}])
    assert only(validate(schema, obj({"vlan": 5000}))) == {
        "reason": "FieldValueInvalid",
        "message": 'Invalid value: "object": vlan too big',
        "field": "spec",
    }


def test_rule_false_without_message() -> None:
    schema = spec_with_rules([{"rule": "self.vlan <= 4094"}])
    assert only(validate(schema, obj({"vlan": 5000})))["message"] == (
        'Invalid value: "object": failed rule: self.vlan <= 4094'
    )


def test_has_on_absent_optional_field() -> None:
    schema = spec_with_rules([{"rule": "self.mode != 'Vlan' || has(self.vlan)", "message": "vlan required"}])
    assert validate(schema, obj({"mode": "NoVlan"})) == []
    assert (
        only(validate(schema, obj({"mode": "Vlan"})))["message"] == 'Invalid value: "object": vlan required'
    )


def test_reason_and_field_path() -> None:
    rule = {
        "rule": "has(self.vlan)",
        "message": "set vlan",
        "reason": "FieldValueRequired",
        "fieldPath": ".vlan",
    }
    schema = spec_with_rules([rule])
    assert only(validate(schema, obj({}))) == {
        "reason": "FieldValueRequired",
        "message": "Required value: set vlan",
        "field": "spec.vlan",
    }


def test_reason_forbidden_and_duplicate() -> None:
    forbidden = spec_with_rules(
        [{"rule": "!has(self.vlan)", "message": "no vlan", "reason": "FieldValueForbidden"}]
    )
    assert only(validate(forbidden, obj({"vlan": 1})))["message"] == "Forbidden: no vlan"
    duplicate = spec_with_rules([{"rule": "false", "reason": "FieldValueDuplicate"}])
    assert only(validate(duplicate, obj({}))) == {
        "reason": "FieldValueDuplicate",
        "message": 'Duplicate value: "object"',
        "field": "spec",
    }


def test_message_expression() -> None:
    rule = {"rule": "self.vlan < 10", "messageExpression": "'vlan ' + string(self.vlan) + ' is too big'"}
    schema = spec_with_rules([rule])
    assert (
        only(validate(schema, obj({"vlan": 12})))["message"] == 'Invalid value: "object": vlan 12 is too big'
    )


def test_rule_on_scalar_field_reports_its_type() -> None:
    schema = crd_schema(
        {
            "type": "object",
            "properties": {
                "name": {"type": "string", "x-kubernetes-validations": [{"rule": "self.startsWith('x')"}]},
            },
        }
    )
    assert validate(schema, obj({"name": "xa"})) == []
    assert only(validate(schema, obj({"name": "a"}))) == {
        "reason": "FieldValueInvalid",
        "message": "Invalid value: \"string\": failed rule: self.startsWith('x')",
        "field": "spec.name",
    }


def test_rules_inside_array_items_get_indexed_paths() -> None:
    schema = crd_schema(
        {
            "type": "object",
            "properties": {
                "ranges": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"start": {"type": "string"}},
                        "x-kubernetes-validations": [
                            {"rule": "isIP(self.start)", "message": "start must be an IP"}
                        ],
                    },
                }
            },
        }
    )
    causes = validate(schema, obj({"ranges": [{"start": "10.0.0.1"}, {"start": "nope"}]}))
    assert only(causes)["field"] == "spec.ranges[1]"


def test_rules_inside_map_values_get_key_paths() -> None:
    schema = crd_schema(
        {
            "type": "object",
            "properties": {
                "pools": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "integer",
                        "x-kubernetes-validations": [{"rule": "self > 0"}],
                    },
                }
            },
        }
    )
    assert only(validate(schema, obj({"pools": {"a": 1, "b": 0}})))["field"] == "spec.pools[b]"


def test_macros() -> None:
    schema = spec_with_rules(
        [
            {"rule": "self.ranges.all(r, r.start.matches('^[0-9.]+$'))"},
            {"rule": "self.ranges.exists(r, r.start == '10.0.0.1')"},
            {"rule": "self.ranges.exists_one(r, r.start.endsWith('.1'))"},
            {"rule": "self.ranges.map(r, r.start).filter(s, s.contains('.')).size() == size(self.ranges)"},
        ]
    )
    assert validate(schema, obj({"ranges": [{"start": "10.0.0.1"}, {"start": "10.0.0.2"}]})) == []
    assert len(validate(schema, obj({"ranges": [{"start": "x"}]}))) == 4


@pytest.mark.parametrize(
    "rule",
    [
        "isCIDR(self.cidr) && cidr(self.cidr).containsIP(self.gateway)",
        "cidr(self.cidr).containsIP(ip(self.gateway))",
        "ip(self.gateway).family() == 4",
        "cidr(self.cidr).prefixLength() == 24",
        "cidr(self.cidr).ip() == ip('192.168.1.0')",
        "cidr(self.cidr).containsCIDR('192.168.1.128/25')",
        "isIP(self.gateway) && !isIP('300.1.1.1') && !isIP('::ffff:1.2.3.4')",
        "string(ip(self.gateway)) == self.gateway",
    ],
)
def test_ip_and_cidr_library(rule: str) -> None:
    schema = spec_with_rules([{"rule": rule}])
    assert validate(schema, obj({"cidr": "192.168.1.0/24", "gateway": "192.168.1.1"})) == []


def test_cidr_does_not_contain_ip_outside() -> None:
    schema = spec_with_rules(
        [{"rule": "cidr(self.cidr).containsIP(self.gateway)", "message": "gateway outside"}]
    )
    cause = only(validate(schema, obj({"cidr": "192.168.1.0/24", "gateway": "10.0.0.1"})))
    assert cause["message"] == 'Invalid value: "object": gateway outside'


def test_runtime_error_is_a_cause() -> None:
    schema = spec_with_rules([{"rule": "ip(self.gateway).family() == 4"}])
    cause = only(validate(schema, obj({"gateway": "bad"})))
    assert cause["field"] == "spec"
    assert cause["message"].startswith('Invalid value: "object": IP Address "bad" parse error')
    assert cause["message"].endswith("evaluating rule: ip(self.gateway).family() == 4")


def test_missing_key_error_is_worded_like_cel_go() -> None:
    schema = spec_with_rules([{"rule": "self.vlan > 0"}])
    assert only(validate(schema, obj({})))["message"] == (
        'Invalid value: "object": no such key: vlan evaluating rule: self.vlan > 0'
    )


def test_syntax_error_is_a_cause_not_a_crash() -> None:
    schema = spec_with_rules([{"rule": "self.vlan +"}])
    cause = only(validate(schema, obj({"vlan": 1})))
    assert cause["message"].startswith('Invalid value: "object": rule compile error: ERROR: <input>:1:')


def test_unknown_function_is_a_compile_error() -> None:
    schema = spec_with_rules([{"rule": "frobnicate(self.vlan)"}])
    assert only(validate(schema, obj({"vlan": 1})))["message"] == (
        "Invalid value: \"object\": rule compile error: undeclared reference to 'frobnicate'"
    )


def test_transition_rule_skipped_on_create_evaluated_on_update() -> None:
    schema = spec_with_rules([{"rule": "self.mode == oldSelf.mode", "message": "mode is immutable"}])
    assert validate(schema, obj({"mode": "a"})) == []
    old = obj({"mode": "a"})
    assert validate(schema, obj({"mode": "a"}), old) == []
    assert (
        only(validate(schema, obj({"mode": "b"}), old))["message"]
        == 'Invalid value: "object": mode is immutable'
    )


def test_optional_old_self_is_evaluated_on_create() -> None:
    rule = {
        "rule": "!oldSelf.hasValue() || oldSelf.value() == self",
        "optionalOldSelf": True,
        "message": "immutable",
    }
    schema = crd_schema(
        {
            "type": "object",
            "properties": {
                "mode": {"type": "string", "x-kubernetes-validations": [rule]},
            },
        }
    )
    assert validate(schema, obj({"mode": "a"})) == []
    assert only(validate(schema, obj({"mode": "b"}), obj({"mode": "a"})))["field"] == "spec.mode"


def test_transition_rule_on_field_added_by_update_is_skipped() -> None:
    schema = crd_schema(
        {
            "type": "object",
            "properties": {
                "mode": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf"}]},
            },
        }
    )
    assert validate(schema, obj({"mode": "b"}), obj({})) == []


def test_root_rule_sees_metadata_name() -> None:
    schema = crd_schema(
        {"type": "object"}, **{"x-kubernetes-validations": [{"rule": "self.metadata.name.size() <= 3"}]}
    )
    assert validate(schema, obj({}, name="abc")) == []
    cause = only(validate(schema, obj({}, name="abcd")))
    assert "field" not in cause  # the root's path is empty: a real Status omits the field
    assert cause["message"] == 'Invalid value: "object": failed rule: self.metadata.name.size() <= 3'


def test_escaped_property_names() -> None:
    assert celrules.escape_property("namespace") == "__namespace__"
    assert celrules.escape_property("vf-count") == "vf__dash__count"
    assert celrules.escape_property("a b") is None
    schema = spec_with_rules(
        [{"rule": "self.vf__dash__count == 2 && self.__namespace__ == 'x'"}],
        **{"vf-count": {"type": "integer"}, "namespace": {"type": "string"}},
    )
    assert validate(schema, obj({"vf-count": 2, "namespace": "x"})) == []


def test_compiled_programs_are_cached() -> None:
    assert celrules.compile_expression("self.x == 1") is celrules.compile_expression("self.x == 1")
