"""Pruning, defaulting and OpenAPI validation as a k8s 1.32 kube-apiserver does them for CRs."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kvsriov.sandbox.apiserver.validation import apply_defaults, go_float, prune, validate

# As a real 1.34 server words it (checked by tests/sandbox/conformance): no field, printed `<nil>`.
SKIPPED = (
    "Invalid value: null: some validation rules were not checked because the object was invalid; "
    "correct the existing errors to complete validation"
)


def crd_schema(spec: dict[str, Any], **root: Any) -> dict[str, Any]:
    """A root schema like a CRD's: apiVersion/kind/metadata plus the given spec schema."""
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


def obj(spec: Any, **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "x.io/v1", "kind": "Thing", "metadata": {"name": "a", **metadata}, "spec": spec}


NETWORK = crd_schema(
    {
        "type": "object",
        "required": ["numVfs"],
        "properties": {
            "numVfs": {"type": "integer", "minimum": 0, "maximum": 128},
            "vlan": {"type": "integer", "minimum": 0, "maximum": 4094},
            "vlanMode": {"type": "string", "enum": ["NoVlan", "Vlan"], "default": "NoVlan"},
            "name": {"type": "string", "maxLength": 5, "minLength": 2, "pattern": "^[a-z]+$"},
            "mtu": {"type": "number", "multipleOf": 0.5, "exclusiveMaximum": True, "maximum": 9000},
            "ipam": {
                "type": "object",
                "properties": {
                    "ranges": {
                        "type": "array",
                        "maxItems": 2,
                        "minItems": 1,
                        "items": {"type": "object", "properties": {"start": {"type": "string"}}},
                    },
                },
            },
            "labels": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 3}},
            "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "port": {"x-kubernetes-int-or-string": True},
        },
    }
)


def only(causes: list[dict[str, str]]) -> dict[str, str]:
    assert len(causes) == 1, causes
    return causes[0]


# --- prune ---------------------------------------------------------------------------------------


def test_prune_removes_undeclared_fields_with_their_paths() -> None:
    o = obj({"numVfs": 1, "foo": 1, "ipam": {"ranges": [{"start": "a", "bar": 2}]}})
    assert prune(NETWORK, o) == ["spec.foo", "spec.ipam.ranges[0].bar"]
    assert o["spec"] == {"numVfs": 1, "ipam": {"ranges": [{"start": "a"}]}}


def test_prune_keeps_root_type_meta_and_standard_metadata_only() -> None:
    o = obj({"numVfs": 1}, labels={"a": "b"}, bogus=1)
    o["status"] = {"x": 1}
    assert prune(NETWORK, o) == ["metadata.bogus", "status"]
    assert o["metadata"] == {"name": "a", "labels": {"a": "b"}}
    assert o["apiVersion"] == "x.io/v1" and o["kind"] == "Thing"


def test_prune_keeps_preserved_and_additional_properties() -> None:
    o = obj({"numVfs": 1, "extra": {"any": {"thing": 1}}, "labels": {"k": "v"}})
    assert prune(NETWORK, o) == []
    assert o["spec"]["extra"] == {"any": {"thing": 1}} and o["spec"]["labels"] == {"k": "v"}


def test_prune_inside_additional_properties_values_uses_key_paths() -> None:
    schema = crd_schema(
        {
            "type": "object",
            "additionalProperties": {"type": "object", "properties": {"a": {"type": "string"}}},
        }
    )
    o = obj({"k1": {"a": "x", "b": 1}})
    assert prune(schema, o) == ["spec[k1].b"]


def test_prune_embedded_resource_keeps_type_meta() -> None:
    schema = crd_schema(
        {
            "type": "object",
            "properties": {
                "template": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "properties": {"spec": {"type": "object", "properties": {}}},
                },
            },
        }
    )
    o = obj(
        {"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "x": 1}, "spec": {"y": 1}}}
    )
    assert prune(schema, o) == ["spec.template.metadata.x", "spec.template.spec.y"]
    assert o["spec"]["template"] == {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}}


def test_prune_drops_non_nullable_null_without_default_silently() -> None:
    o = obj({"numVfs": 1, "vlan": None})
    assert prune(NETWORK, o) == []
    assert "vlan" not in o["spec"]


# --- defaults ------------------------------------------------------------------------------------


DEFAULTS = crd_schema(
    {
        "type": "object",
        "default": {},
        "properties": {
            "mode": {"type": "string", "default": "NoVlan"},
            "nullableMode": {"type": "string", "nullable": True, "default": "x"},
            "ipam": {
                "type": "object",
                "default": {},
                "properties": {"prefix": {"type": "integer", "default": 24}},
            },
            "ranges": {
                "type": "array",
                "items": {"type": "object", "properties": {"step": {"type": "integer", "default": 1}}},
            },
            "pools": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {"size": {"type": "integer", "default": 8}},
                },
            },
        },
    }
)


def test_defaults_create_objects_and_apply_their_own_defaults() -> None:
    o = {"apiVersion": "x.io/v1", "kind": "Thing", "metadata": {"name": "a"}}
    apply_defaults(DEFAULTS, o)
    assert o["spec"] == {"mode": "NoVlan", "nullableMode": "x", "ipam": {"prefix": 24}}


def test_defaults_inside_array_items_and_map_values() -> None:
    o = obj({"ranges": [{}, {"step": 5}], "pools": {"a": {}}})
    apply_defaults(DEFAULTS, o)
    assert o["spec"]["ranges"] == [{"step": 1}, {"step": 5}]
    assert o["spec"]["pools"] == {"a": {"size": 8}}


def test_defaults_replace_null_unless_nullable() -> None:
    o = obj({"mode": None, "nullableMode": None})
    apply_defaults(DEFAULTS, o)
    assert o["spec"]["mode"] == "NoVlan"
    assert o["spec"]["nullableMode"] is None


def test_defaults_do_not_overwrite_given_values() -> None:
    o = obj({"mode": "Vlan", "ipam": {"prefix": 16}})
    apply_defaults(DEFAULTS, o)
    assert o["spec"]["mode"] == "Vlan" and o["spec"]["ipam"] == {"prefix": 16}


def test_defaults_are_copies() -> None:
    a, b = obj({}), obj({})
    apply_defaults(DEFAULTS, a)
    apply_defaults(DEFAULTS, b)
    a["spec"]["ipam"]["prefix"] = 1
    assert b["spec"]["ipam"]["prefix"] == 24


# --- validate: accepted --------------------------------------------------------------------------


def test_valid_object_has_no_causes() -> None:
    o = obj(
        {
            "numVfs": 8,
            "vlan": 100,
            "vlanMode": "Vlan",
            "name": "abc",
            "mtu": 1500.5,
            "ipam": {"ranges": [{"start": "a"}]},
            "labels": {"a": "b"},
            "port": "http",
        }
    )
    assert validate(NETWORK, o) == []


def test_integral_float_is_an_integer() -> None:
    assert validate(NETWORK, obj({"numVfs": 8.0})) == []


def test_int_or_string_accepts_both() -> None:
    assert validate(NETWORK, obj({"numVfs": 1, "port": 80})) == []
    assert validate(NETWORK, obj({"numVfs": 1, "port": "80"})) == []


# --- validate: refused ---------------------------------------------------------------------------


def test_maximum() -> None:
    cause = only(validate(NETWORK, obj({"numVfs": 1, "vlan": 5000})))
    assert cause == {
        "reason": "FieldValueInvalid",
        "message": "Invalid value: 5000: spec.vlan in body should be less than or equal to 4094",
        "field": "spec.vlan",
    }


def test_minimum() -> None:
    cause = only(validate(NETWORK, obj({"numVfs": -1})))
    assert cause["message"] == "Invalid value: -1: spec.numVfs in body should be greater than or equal to 0"


def test_exclusive_maximum_and_float_formatting() -> None:
    cause = only(validate(NETWORK, obj({"numVfs": 1, "mtu": 9000.0})))
    assert cause["message"] == "Invalid value: 9000: spec.mtu in body should be less than 9000"


def test_multiple_of() -> None:
    cause = only(validate(NETWORK, obj({"numVfs": 1, "mtu": 1500.25})))
    assert cause["message"] == "Invalid value: 1500.25: spec.mtu in body should be a multiple of 0.5"


def test_enum() -> None:
    causes = validate(NETWORK, obj({"numVfs": 1, "vlanMode": "Vxlan"}))
    assert causes[0] == {
        "reason": "FieldValueNotSupported",
        "message": 'Unsupported value: "Vxlan": supported values: "NoVlan", "Vlan"',
        "field": "spec.vlanMode",
    }


def test_required() -> None:
    causes = validate(NETWORK, obj({}))
    assert causes[0] == {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.numVfs"}


def test_type_mismatch() -> None:
    causes = validate(NETWORK, obj({"numVfs": "string"}))
    assert causes[0] == {
        "reason": "FieldValueTypeInvalid",
        "message": 'Invalid value: "string": spec.numVfs in body must be of type integer: "string"',
        "field": "spec.numVfs",
    }


def test_integer_rejects_fraction() -> None:
    cause = validate(NETWORK, obj({"numVfs": 1.5}))[0]
    assert (
        cause["message"] == 'Invalid value: "number": spec.numVfs in body must be of type integer: "number"'
    )


def test_null_for_non_nullable() -> None:
    cause = validate(NETWORK, obj({"numVfs": None}))[0]
    assert cause["reason"] == "FieldValueTypeInvalid"
    assert cause["message"] == 'Invalid value: "null": spec.numVfs in body must be of type integer: "null"'


def test_int_or_string_rejects_bool() -> None:
    cause = validate(NETWORK, obj({"numVfs": 1, "port": True}))[0]
    assert cause["message"] == (
        'Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"'
    )


def test_max_length() -> None:
    cause = validate(NETWORK, obj({"numVfs": 1, "name": "abcdefg"}))[0]
    assert cause == {
        "reason": "FieldValueTooLong",
        "message": "Too long: may not be more than 5 bytes",
        "field": "spec.name",
    }


def test_min_length() -> None:
    cause = only(validate(NETWORK, obj({"numVfs": 1, "name": "a"})))
    assert cause["message"] == 'Invalid value: "a": spec.name in body should be at least 2 chars long'


def test_pattern() -> None:
    cause = only(validate(NETWORK, obj({"numVfs": 1, "name": "AB"})))
    assert cause["message"] == "Invalid value: \"AB\": spec.name in body should match '^[a-z]+$'"


def test_max_items() -> None:
    causes = validate(NETWORK, obj({"numVfs": 1, "ipam": {"ranges": [{}, {}, {}]}}))
    assert causes[0] == {
        "reason": "FieldValueTooMany",
        "message": "Too many: 3: must have at most 2 items",
        "field": "spec.ipam.ranges",
    }


def test_min_items() -> None:
    cause = only(validate(NETWORK, obj({"numVfs": 1, "ipam": {"ranges": []}})))
    assert cause["message"] == "Invalid value: 0: spec.ipam.ranges in body should have at least 1 items"


def test_array_item_path() -> None:
    cause = validate(NETWORK, obj({"numVfs": 1, "ipam": {"ranges": [{"start": 1}]}}))[0]
    assert cause["field"] == "spec.ipam.ranges[0].start"
    assert "spec.ipam.ranges[0].start in body must be of type string" in cause["message"]


def test_additional_properties_values_are_validated() -> None:
    cause = validate(NETWORK, obj({"numVfs": 1, "labels": {"k": "long"}}))[0]
    assert cause == {
        "reason": "FieldValueTooLong",
        "message": "Too long: may not be more than 3 bytes",
        "field": "spec.labels.k",
    }


def test_min_and_max_properties() -> None:
    schema = crd_schema(
        {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 2,
            "additionalProperties": {"type": "integer"},
        }
    )
    assert only(validate(schema, obj({})))["message"] == (
        "Invalid value: 0: spec in body should have at least 1 properties"
    )
    assert validate(schema, obj({"a": 1, "b": 2, "c": 3}))[0] == {
        "reason": "FieldValueTooMany",
        "message": "Too many: 3: must have at most 2 items",
        "field": "spec",
    }


def test_unique_items() -> None:
    schema = crd_schema({"type": "array", "uniqueItems": True, "items": {"type": "integer"}})
    cause = only(validate(schema, obj([1, 2, 1])))
    assert cause == {
        "reason": "FieldValueInvalid",
        "message": 'Invalid value: "": spec in body shouldn\'t contain duplicates',
        "field": "spec",
    }


def test_list_type_set_duplicates() -> None:
    schema = crd_schema({"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}})
    assert validate(schema, obj(["a", "b"])) == []
    cause = only(validate(schema, obj(["a", "b", "a"])))
    assert cause == {"reason": "FieldValueDuplicate", "message": 'Duplicate value: "a"', "field": "spec[2]"}


def test_list_type_map_duplicate_keys() -> None:
    schema = crd_schema(
        {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "properties": {"name": {"type": "string"}, "v": {"type": "integer"}}},
        }
    )
    assert validate(schema, obj([{"name": "a", "v": 1}, {"name": "b", "v": 1}])) == []
    cause = only(validate(schema, obj([{"name": "a", "v": 1}, {"name": "a", "v": 2}])))
    assert cause == {
        "reason": "FieldValueDuplicate",
        "message": 'Duplicate value: map[string]interface {}{"name":"a"}',
        "field": "spec[1]",
    }


def test_nullable_accepts_null() -> None:
    schema = crd_schema({"type": "object", "properties": {"x": {"type": "string", "nullable": True}}})
    assert validate(schema, obj({"x": None})) == []


def test_format_ipv4_and_unknown_formats() -> None:
    schema = crd_schema(
        {
            "type": "object",
            "properties": {
                "ip": {"type": "string", "format": "ipv4"},
                "other": {"type": "string", "format": "no-such-format"},
                "count": {"type": "integer", "format": "int32"},
            },
        }
    )
    assert validate(schema, obj({"ip": "10.0.0.1", "other": "x", "count": 3})) == []
    cause = only(validate(schema, obj({"ip": "10.0.0"})))
    assert cause == {
        "reason": "FieldValueTypeInvalid",
        "message": 'Invalid value: "10.0.0": spec.ip in body must be of type ipv4: "10.0.0"',
        "field": "spec.ip",
    }


def test_any_of_reports_composite_error_without_field() -> None:
    schema = crd_schema(
        {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "anyOf": [{"required": ["a"]}, {"required": ["b"]}],
        }
    )
    assert validate(schema, obj({"b": 1})) == []
    causes = validate(schema, obj({}))
    assert causes[0] == {
        "reason": "FieldValueInvalid",
        "message": 'Invalid value: "": "spec" must validate at least one schema (anyOf)',
    }
    assert causes[1]["reason"] == "FieldValueRequired"


def test_one_of_and_not() -> None:
    schema = crd_schema(
        {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
            "not": {"required": ["c"]},
        }
    )
    assert validate(schema, obj({"a": 1})) == []
    both = validate(schema, obj({"a": 1, "b": 2}))
    assert both == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "": "spec" must validate one and only one schema (oneOf). '
            "Found 2 valid alternatives",
        }
    ]


def test_all_of() -> None:
    schema = crd_schema(
        {
            "type": "object",
            "properties": {"a": {"type": "integer"}},
            "allOf": [{"properties": {"a": {"maximum": 5}}}, {"required": ["a"]}],
        }
    )
    assert validate(schema, obj({"a": 1})) == []
    messages = [c["message"] for c in validate(schema, obj({"a": 7}))]
    assert messages == [
        "Invalid value: 7: spec.a in body should be less than or equal to 5",
        'Invalid value: "": "spec" must validate all the schemas (allOf)',
    ]


def test_update_ratchets_unchanged_invalid_values() -> None:
    old = obj({"numVfs": 1, "vlan": 5000})
    new = copy.deepcopy(old)
    new["spec"]["numVfs"] = 2
    assert validate(NETWORK, new, old) == []
    new["spec"]["vlan"] = 5001
    assert only(validate(NETWORK, new, old))["field"] == "spec.vlan"


def test_blocking_error_skips_cel_rules() -> None:
    schema = crd_schema(
        {
            "type": "object",
            "required": ["a"],
            "properties": {"a": {"type": "integer"}},
            "x-kubernetes-validations": [{"rule": "false"}],
        }
    )
    causes = validate(schema, obj({}))
    assert causes == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.a"},
        {"reason": "FieldValueInvalid", "message": SKIPPED, "field": "<nil>"},
    ]


def test_non_blocking_error_still_runs_cel_rules() -> None:
    schema = crd_schema(
        {
            "type": "object",
            "properties": {"a": {"type": "integer", "maximum": 1}},
            "x-kubernetes-validations": [{"rule": "false", "message": "never"}],
        }
    )
    causes = validate(schema, obj({"a": 2}))
    assert [c["message"] for c in causes] == [
        "Invalid value: 2: spec.a in body should be less than or equal to 1",
        'Invalid value: "object": never',
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (4094.0, "4094"),
        (0.5, "0.5"),
        (1e6, "1e+06"),
        (123456.0, "123456"),
        (1.5e-5, "1.5e-05"),
        (-2.25, "-2.25"),
    ],
)
def test_go_float_formatting(value: float, text: str) -> None:
    assert go_float(value) == text
