"""Validation of custom objects against a CRD's structural openAPIV3Schema.

Contract shared by the emulated API server (the caller) and this module. The
server calls, for every create/update/patch of a custom object, in this order:

    unknown = prune(schema, obj)          # drops fields the schema does not know
    apply_defaults(schema, obj)           # fills `default:` values, in place
    causes = validate(schema, obj, old)   # schema + x-kubernetes-validations (CEL)

`unknown` lists the dotted paths of dropped fields (e.g. "spec.foo"): with
fieldValidation=Strict the server refuses the request with them, with Warn it
returns them as warnings, with Ignore it drops them silently.

`validate` returns causes in the shape of a Kubernetes Status's
details.causes entries: {"reason": "FieldValueInvalid", "message": ..., "field": "spec.vlan"}.
An empty list means the object is valid. Like a real Status, a cause that concerns no field
(e.g. "some validation rules were not checked ...") has the field "<nil>", as the real server says.

What is reproduced from a k8s 1.32 kube-apiserver (apiextensions-apiserver + kube-openapi):

* pruning of unknown fields (structural spine only; allOf/anyOf/... never declare fields), with
  apiVersion/kind/metadata kept at the root and in x-kubernetes-embedded-resource objects, and
  explicit nulls of non-nullable properties without default dropped silently;
* defaulting (kube's structural defaulting: parent must exist; defaults recurse);
* the kube-openapi validators in their order (type, allOf/anyOf/oneOf/not, string, format,
  number, array, enum, object), with their messages turned into field errors exactly as
  apiextensions' kubeOpenAPIResultToFieldErrors does (Required/NotSupported/TooLong/TooMany/
  TypeInvalid/Invalid), including the early return of min/maxProperties and of string checks;
* x-kubernetes-list-type set/map duplicate checks (Duplicate causes at `path[i]`);
* CEL rules (see cel.py), skipped with the real placeholder cause when a "blocking" schema
  error (required, enum, too long, too many, wrong type) was found, as the real server does;
* validation ratcheting on update (CRDValidationRatcheting, on by default since 1.30): errors of
  a value that deep-equals its correlated old value are dropped (the server only warns).

Not reproduced: the CEL cost budget, embedded-resource ObjectMeta validation (name format...),
ratcheting of list-type errors, the matchCount heuristic that picks which anyOf/oneOf branch's
errors are shown (the branch with the fewest errors is used), formats other than those in
`schema.formats.FORMATS` (e.g. hostname, email, duration are not checked).

This module is the contract; the steps live in the `schema` package, one concept a module
(paths, field_errors, prune, defaults, value_checks, formats, list_types, rules).
"""

from __future__ import annotations

from typing import Any

from kvsriov.sandbox.apiserver.schema.defaults import apply_defaults
from kvsriov.sandbox.apiserver.schema.field_errors import go_float
from kvsriov.sandbox.apiserver.schema.list_types import validate_list_types
from kvsriov.sandbox.apiserver.schema.paths import MISSING, Cause, Schema
from kvsriov.sandbox.apiserver.schema.prune import prune
from kvsriov.sandbox.apiserver.schema.rules import has_rules, validate_rules
from kvsriov.sandbox.apiserver.schema.value_checks import validate_value

__all__ = ["Cause", "Schema", "apply_defaults", "go_float", "prune", "validate"]

_BLOCKING_REASONS = frozenset(
    {
        "FieldValueNotSupported",
        "FieldValueRequired",
        "FieldValueTooLong",
        "FieldValueTooMany",
        "FieldValueTypeInvalid",
    }
)
_SKIPPED_CEL_MESSAGE = (
    "Invalid value: null: some validation rules were not checked because the object was invalid; "
    "correct the existing errors to complete validation"
)


def validate(schema: Schema, obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[Cause]:
    """Schema, list-type and CEL validation of `obj` (`old` on updates), as Status causes."""
    old_value = MISSING if old is None else old
    causes: list[Cause] = []
    validate_value(schema, obj, "", old_value, causes)
    causes.extend(validate_list_types(schema, obj, ""))
    if not has_rules(schema):
        return causes  # the real server has no CEL validator for such a CRD, hence no placeholder
    if any(c["reason"] in _BLOCKING_REASONS for c in causes):
        causes.append({"reason": "FieldValueInvalid", "message": _SKIPPED_CEL_MESSAGE, "field": "<nil>"})
    else:
        validate_rules(schema, obj, old_value, causes)
    return causes
