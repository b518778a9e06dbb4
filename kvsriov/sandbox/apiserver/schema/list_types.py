"""x-kubernetes-list-type checks (apiextensions pkg/apiserver/schema/listtype).

Duplicate items of list-type set and duplicate keys of list-type map, as Duplicate causes at
`path[i]`. Not ratcheted (neither is the real server's list-type validation).
"""

from __future__ import annotations

from typing import Any

from kvsriov.sandbox.apiserver.schema.field_errors import duplicate
from kvsriov.sandbox.apiserver.schema.paths import (
    Cause,
    Schema,
    field_schema,
    index,
    map_key,
    repeated_indexes,
)


def validate_list_types(schema: Schema, value: Any, path: str) -> list[Cause]:
    """Duplicate items of list-type set and duplicate keys of list-type map."""
    out: list[Cause] = []
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        list_type = schema.get("x-kubernetes-list-type")
        if list_type == "set":
            out.extend(duplicate(index(path, i), value[i]) for i in repeated_indexes(value))
        elif list_type == "map":
            out.extend(_map_duplicates(schema, value, path))
        for i, item in enumerate(value):
            out.extend(validate_list_types(schema["items"], item, index(path, i)))
    elif isinstance(value, dict):
        for name, item in value.items():
            sub = field_schema(schema, path, name)
            if sub is not None:
                out.extend(validate_list_types(sub[0], item, sub[1]))
    return out


def _map_duplicates(schema: Schema, value: list[Any], path: str) -> list[Cause]:
    keys: list[str] = schema.get("x-kubernetes-list-map-keys") or []
    seen: set[tuple[Any, ...] | None] = set()
    out: list[Cause] = []
    for i, item in enumerate(value):
        item_key = map_key(schema, item)
        if item_key is None:
            continue
        if item_key in seen:
            out.append(duplicate(index(path, i), {k: item[k] for k in keys if k in item}))
        seen.add(item_key)
    return out
