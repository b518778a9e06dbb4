"""Structural defaulting of `default:` values (apiextensions pkg/apiserver/schema/defaulting)."""

from __future__ import annotations

import copy
from typing import Any

from kvsriov.sandbox.apiserver.schema.paths import Schema


def apply_defaults(schema: Schema, obj: dict[str, Any]) -> None:
    """Fill `default:` values in place, like apiextensions' structural defaulting.

    A property's default applies only where its parent object exists; a defaulted object then
    gets its own nested defaults. A null replaces by the default unless the property is nullable.
    """
    _default(schema, obj)


def _needs_default(schema: Schema, present: bool, value: Any) -> bool:
    if "default" not in schema:
        return False
    return not present or (value is None and not schema.get("nullable"))


def _default(schema: Schema, value: Any) -> None:
    if isinstance(value, dict):
        _default_map(schema, value)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        items = schema["items"]
        for i, item in enumerate(value):
            if _needs_default(items, True, item):
                value[i] = copy.deepcopy(items["default"])
            _default(items, value[i])


def _default_map(schema: Schema, value: dict[str, Any]) -> None:
    props: dict[str, Schema] = schema.get("properties") or {}
    for name, prop in props.items():
        if _needs_default(prop, name in value, value.get(name)):
            value[name] = copy.deepcopy(prop["default"])
    additional = schema.get("additionalProperties")
    for name in list(value):
        if name in props:
            _default(props[name], value[name])
        elif isinstance(additional, dict):
            if _needs_default(additional, True, value[name]):
                value[name] = copy.deepcopy(additional["default"])
            _default(additional, value[name])
