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
An empty list means the object is valid.

(Implementation pending; see the module's tests.)
"""
from __future__ import annotations

from typing import Any

Cause = dict[str, str]


def prune(schema: dict[str, Any], obj: dict[str, Any]) -> list[str]:
    raise NotImplementedError


def apply_defaults(schema: dict[str, Any], obj: dict[str, Any]) -> None:
    raise NotImplementedError


def validate(schema: dict[str, Any], obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[Cause]:
    raise NotImplementedError
