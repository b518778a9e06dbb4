"""Structural pruning of unknown fields, strict ObjectMeta, and the silent drop of explicit nulls."""

from __future__ import annotations

from typing import Any

from kvsriov.sandbox.apiserver.schema.paths import Schema, child, index, is_resource_root, key

# Fields of ObjectMeta (everything else under metadata is an unknown field for strict decoding).
OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "labels",
        "annotations",
        "finalizers",
        "ownerReferences",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
    }
)


def prune(schema: Schema, obj: dict[str, Any]) -> list[str]:
    """Drop, in place, what the structural schema does not declare; return the dropped paths.

    Mirrors apiextensions' structural pruning plus strict ObjectMeta decoding: the returned paths
    are those a real server names in `unknown field "<path>"` errors/warnings. Explicit nulls of
    non-nullable properties without a default are dropped too, but not reported (the real
    server drops them silently before validation).
    """
    unknown: list[str] = []
    _prune_value(schema, obj, "", unknown, resource_root=True)
    return unknown


def _prune_value(schema: Schema, value: Any, path: str, unknown: list[str], resource_root: bool) -> None:
    if isinstance(value, dict):
        _prune_map(schema, value, path, unknown, resource_root)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        items = schema["items"]
        for i, item in enumerate(value):
            _prune_value(items, item, index(path, i), unknown, is_resource_root(items))


def _prune_map(
    schema: Schema, value: dict[str, Any], path: str, unknown: list[str], resource_root: bool
) -> None:
    props: dict[str, Schema] | None = schema.get("properties")
    additional = schema.get("additionalProperties")
    preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
    for name in list(value):
        item = value[name]
        if resource_root and name in ("apiVersion", "kind"):
            continue
        if resource_root and name == "metadata":
            _prune_metadata(item, child(path, name), unknown)
        elif props is not None and name in props:
            _prune_property(props[name], value, name, path, unknown)
        elif isinstance(additional, dict):
            _prune_value(additional, item, key(path, name), unknown, is_resource_root(additional))
        elif not (preserve or additional is True):
            del value[name]
            unknown.append(child(path, name))


def _prune_property(prop: Schema, parent: dict[str, Any], name: str, path: str, unknown: list[str]) -> None:
    """Declared property: drop a non-nullable null without default, else recurse."""
    item = parent[name]
    if item is None and not prop.get("nullable") and "default" not in prop:
        del parent[name]
        return
    _prune_value(prop, item, child(path, name), unknown, is_resource_root(prop))


def _prune_metadata(metadata: Any, path: str, unknown: list[str]) -> None:
    """ObjectMeta is decoded strictly: anything but its own fields is unknown."""
    if not isinstance(metadata, dict):
        return
    for name in list(metadata):
        if name not in OBJECT_META_FIELDS:
            del metadata[name]
            unknown.append(child(path, name))
