"""The PATCH flavours the real server accepts, on plain dicts.

* JSON merge patch (RFC 7386), also used for strategic merge patch: the
  emulator has no per-field merge keys, so lists are replaced whole and the
  ``$patch``/``$setElementOrder`` directives are dropped (good enough for the
  clients we run: kubectl sends strategic patches only for built-in kinds).
* JSON patch (RFC 6902) through the ``jsonpatch`` library.
* Server-side apply: each field manager owns the set of leaf paths it applied
  last (kept in ``metadata.managedFields`` in the real FieldsV1 encoding);
  a new apply merges its configuration in and removes the paths it owned
  before but omits now. Conflicts between managers are not detected.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import jsonpatch

from .errors import ApiError, bad_request

Obj = dict[str, Any]
Path = tuple[str, ...]

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
APPLY_CBOR = "application/apply-patch+cbor"

# Paths that identify the object or belong to the server; never owned by an applier.
_NOT_OWNED: set[Path] = {
    ("apiVersion",),
    ("kind",),
    ("metadata", "name"),
    ("metadata", "namespace"),
    ("metadata", "resourceVersion"),
    ("metadata", "uid"),
    ("metadata", "managedFields"),
    ("metadata", "creationTimestamp"),
    ("metadata", "generation"),
    ("metadata", "selfLink"),
}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value if not (isinstance(v, dict) and "$patch" in v)]
    return value


def strategic_merge_patch(target: Obj, patch: Obj) -> Obj:
    """Approximation of a strategic merge patch as a merge patch (see module doc)."""
    return _strip_directives(merge_patch(target, patch))


def json_patch(target: Obj, operations: Any) -> Obj:
    """RFC 6902; a failed ``test`` or a bad path is a 422 like the real server."""
    if not isinstance(operations, list):
        raise bad_request("json patch must be a list of operations")
    try:
        return jsonpatch.JsonPatch(operations).apply(copy.deepcopy(target))
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise ApiError(
            422, "Invalid", "the server rejected our request due to an error in our request"
        ) from exc


def apply_patch(content_type: str, target: Obj, body: Any) -> Obj:
    """Dispatch a non-apply PATCH on its content type."""
    if content_type == JSON_PATCH:
        return json_patch(target, body)
    if not isinstance(body, dict):
        raise bad_request("patch body must be a JSON object")
    if content_type == STRATEGIC:
        return strategic_merge_patch(target, body)
    return merge_patch(target, body)


# --- server-side apply -------------------------------------------------------------------------


def leaf_paths(obj: Any, prefix: Path = ()) -> set[Path]:
    """Leaf paths of an applied configuration; lists count as atomic leaves."""
    paths: set[Path] = set()
    if isinstance(obj, dict) and obj:
        for key, value in obj.items():
            paths |= leaf_paths(value, (*prefix, key))
    elif prefix:
        paths.add(prefix)
    return {p for p in paths if p not in _NOT_OWNED}


def encode_fields(paths: set[Path]) -> Obj:
    """FieldsV1 encoding (``{"f:spec": {"f:size": {}}}``) of a path set."""
    root: Obj = {}
    for path in sorted(paths):
        node = root
        for part in path:
            node = node.setdefault(f"f:{part}", {})
    return root


def decode_fields(fields: Obj, prefix: Path = ()) -> set[Path]:
    """Inverse of :func:`encode_fields` (keys other than ``f:...`` are ignored)."""
    paths: set[Path] = set()
    for key, child in (fields or {}).items():
        if not key.startswith("f:"):
            continue
        path = (*prefix, key[2:])
        sub = decode_fields(child, path) if isinstance(child, dict) else set()
        paths |= sub or {path}
    return paths


def _remove_path(obj: Obj, path: Path) -> None:
    parents: list[tuple[Obj, str]] = []
    node: Any = obj
    for part in path[:-1]:
        if not isinstance(node, dict) or not isinstance(node.get(part), dict):
            return
        parents.append((node, part))
        node = node[part]
    if isinstance(node, dict):
        node.pop(path[-1], None)
    for parent, part in reversed(parents):  # drop maps the removal left empty
        if parent[part] == {} and len(parents) > 1:
            del parent[part]
        else:
            break


def _deep_merge(target: Obj, applied: Obj) -> None:
    for key, value in applied.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_merge(target[key], value)
        elif value is None:
            target.pop(key, None)
        else:
            target[key] = copy.deepcopy(value)


def server_side_apply(current: Obj | None, applied: Obj, manager: str, subresource: str | None = None) -> Obj:
    """The object after ``manager`` applies ``applied`` (``current`` None: create)."""
    new_paths = leaf_paths(applied)
    result: Obj = copy.deepcopy(current) if current is not None else {}
    managed: list[Obj] = list((result.get("metadata") or {}).get("managedFields") or [])
    mine = [
        m
        for m in managed
        if m.get("manager") == manager
        and m.get("operation") == "Apply"
        and m.get("subresource") == subresource
    ]
    old_paths: set[Path] = set()
    for entry in mine:
        old_paths |= decode_fields(entry.get("fieldsV1") or {})
    for path in sorted(old_paths - new_paths, key=len, reverse=True):
        _remove_path(result, path)
    _deep_merge(result, {k: v for k, v in applied.items() if k != "metadata"})
    meta = result.setdefault("metadata", {})
    _deep_merge(meta, {k: v for k, v in (applied.get("metadata") or {}).items() if k != "managedFields"})
    entry = {
        "manager": manager,
        "operation": "Apply",
        "apiVersion": applied.get("apiVersion", ""),
        "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "fieldsType": "FieldsV1",
        "fieldsV1": encode_fields(new_paths),
    }
    if subresource:
        entry["subresource"] = subresource
    meta["managedFields"] = [m for m in managed if m not in mine] + [entry]
    return result
