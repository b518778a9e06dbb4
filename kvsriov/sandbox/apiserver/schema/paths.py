"""Field paths, schema walking and old-value correlation shared by every schema step.

field.Path rendering (pruning, list types, CEL): child "a.b", index "a[0]", key "a[k]". The
kube-openapi validators name fields their own way (see ``err_field``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

Cause = dict[str, str]
Schema = dict[str, Any]

MISSING: Any = object()
"""No correlated old value (create, new list item, new map key...)."""


def child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def key(path: str, name: str) -> str:
    return f"{path}[{name}]"


def err_field(name: str) -> str:
    """kube-openapi error names start with "." for required/additional properties of the root."""
    return name[1:] if name.startswith(".") else name


def is_resource_root(schema: Schema) -> bool:
    return schema.get("x-kubernetes-embedded-resource") is True


def field_schema(schema: Schema, path: str, name: str) -> tuple[Schema, str] | None:
    """Schema and field.Path of map entry `name`: a declared property, else additionalProperties."""
    props: dict[str, Schema] | None = schema.get("properties")
    if props is not None and name in props:
        return props[name], child(path, name)
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        return additional, key(path, name)
    return None


def json_equal(a: Any, b: Any) -> bool:
    """Deep equality that, unlike ==, keeps true != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b if not isinstance(a, dict | list) else _container_equal(a, b)


def _container_equal(a: dict[str, Any] | list[Any], b: Any) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if not isinstance(b, list) or len(a) != len(b):
        return False
    return all(json_equal(x, y) for x, y in zip(a, b, strict=True))


def repeated_indexes(value: list[Any]) -> Iterator[int]:
    """Indexes of the items that deep-equal an earlier item (uniqueItems, list-type set)."""
    for i, item in enumerate(value):
        if any(json_equal(item, earlier) for earlier in value[:i]):
            yield i


def map_key(schema: Schema, item: Any) -> tuple[Any, ...] | None:
    """The x-kubernetes-list-map-keys of a list-type map item (None: not an object)."""
    if not isinstance(item, dict):
        return None
    keys: list[str] = schema.get("x-kubernetes-list-map-keys") or []
    return tuple(json.dumps(item.get(k), sort_keys=True) for k in keys)


def correlate_list(schema: Schema, old: Any, value: list[Any]) -> list[Any]:
    """Old item of each new item: by keys for list-type map, none otherwise (kube correlation)."""
    if schema.get("x-kubernetes-list-type") != "map" or not isinstance(old, list):
        return [MISSING] * len(value)
    by_key = {map_key(schema, item): item for item in old if isinstance(item, dict)}
    return [by_key.get(map_key(schema, item), MISSING) for item in value]
