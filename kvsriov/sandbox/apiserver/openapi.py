"""OpenAPI documents that kubectl reads before it writes.

kubectl 1.32 decides whether the server validates fields itself (and then
sends ``fieldValidation=Strict`` instead of validating client-side) by looking,
in ``/openapi/v3/<api|apis/g>/<v>``, for a PATCH operation tagged with the
resource's ``x-kubernetes-group-version-kind`` that declares a
``fieldValidation`` query parameter. The component schemas come from the CRD
(built-ins get a permissive schema), which is also what client-side apply
uses to compute its patch.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from .resources import Registry, ResourceType

Obj = dict[str, Any]

_PERMISSIVE: Obj = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
_STRING_MAP: Obj = {"type": "object", "additionalProperties": {"type": "string", "default": ""}}
# Enough of ObjectMeta for client-side apply to compute patches on labels, annotations and finalizers.
OBJECT_META: Obj = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "generateName": {"type": "string"},
        "namespace": {"type": "string"},
        "uid": {"type": "string"},
        "resourceVersion": {"type": "string"},
        "generation": {"type": "integer", "format": "int64"},
        "creationTimestamp": {"type": "string", "format": "date-time"},
        "deletionTimestamp": {"type": "string", "format": "date-time"},
        "deletionGracePeriodSeconds": {"type": "integer", "format": "int64"},
        "labels": _STRING_MAP,
        "annotations": _STRING_MAP,
        "finalizers": {
            "type": "array",
            "items": {"type": "string", "default": ""},
            "x-kubernetes-list-type": "set",
            "x-kubernetes-patch-strategy": "merge",
        },
        "ownerReferences": {
            "type": "array",
            "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
        "managedFields": {
            "type": "array",
            "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    },
}


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def schema_name(rt: ResourceType) -> str:
    """Definition name as the real server spells it (reversed group, then version and kind)."""
    group = ".".join(reversed(rt.group.split("."))) if rt.group else "io.k8s.api.core"
    return f"{group}.{rt.version}.{rt.kind}"


def _gvk(rt: ResourceType) -> Obj:
    return {"group": rt.group, "version": rt.version, "kind": rt.kind}


def _schema(rt: ResourceType) -> Obj:
    schema = copy.deepcopy(rt.schema) if rt.schema else copy.deepcopy(_PERMISSIVE)
    props = schema.setdefault("properties", {})
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    props["metadata"] = copy.deepcopy(OBJECT_META)
    schema["x-kubernetes-group-version-kind"] = [_gvk(rt)]
    return schema


def _query(name: str, kind: str = "string") -> Obj:
    return {"name": name, "in": "query", "schema": {"type": kind, "uniqueItems": True}}


def _operation(rt: ResourceType, action: str, params: list[Obj], body: list[str] | None) -> Obj:
    ref = {"$ref": f"#/components/schemas/{schema_name(rt)}"}
    op: Obj = {
        "operationId": f"{action}{rt.kind}",
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(rt),
        "parameters": params,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}},
    }
    if body:
        op["requestBody"] = {"content": {ct: {"schema": ref} for ct in body}, "required": True}
    return op


def _paths(rt: ResourceType) -> dict[str, Obj]:
    base = f"/{_gv_path(rt.group, rt.version)}"
    base += f"/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"/{rt.plural}"
    writes = [_query("dryRun"), _query("fieldManager"), _query("fieldValidation")]
    patch_types = [
        "application/json-patch+json",
        "application/merge-patch+json",
        *([] if rt.custom else ["application/strategic-merge-patch+json"]),  # none for custom resources
        "application/apply-patch+yaml",
    ]
    listing = [
        _query("labelSelector"),
        _query("fieldSelector"),
        _query("watch", "boolean"),
        _query("resourceVersion"),
        _query("limit", "integer"),
        _query("continue"),
    ]
    item: Obj = {
        "get": _operation(rt, "get", [], None),
        "put": _operation(rt, "put", writes, ["*/*"]),
        "patch": _operation(rt, "patch", [*writes, _query("force", "boolean")], patch_types),
        "delete": _operation(rt, "delete", [_query("dryRun")], None),
        "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
    }
    paths = {
        base: {
            "get": _operation(rt, "list", listing, None),
            "post": _operation(rt, "post", writes, ["*/*"]),
            "delete": _operation(rt, "deletecollection", listing, None),
        },
        f"{base}/{{name}}": item,
    }
    if rt.status_subresource:
        paths[f"{base}/{{name}}/status"] = {k: v for k, v in item.items() if k != "delete"}
    return paths


def group_version_doc(registry: Registry, group: str, version: str) -> Obj | None:
    """``/openapi/v3/<api|apis/g>/<v>``, or None when the group-version is not served."""
    types = registry.in_group_version(group, version)
    if not types:
        return None
    paths: dict[str, Obj] = {}
    schemas: dict[str, Obj] = {}
    for rt in types:
        paths.update(_paths(rt))
        schemas[schema_name(rt)] = _schema(rt)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def v3_root(registry: Registry) -> Obj:
    """``/openapi/v3``: one entry per group-version; the hash changes with the content."""
    paths: dict[str, Obj] = {}
    for group, versions in sorted(registry.group_versions().items()):
        for version in versions:
            doc = group_version_doc(registry, group, version)
            digest = hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32].upper()
            path = _gv_path(group, version)
            paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}


def v2_doc(registry: Registry) -> Obj:
    """``/openapi/v2`` in JSON (Swagger 2.0) with every served kind's schema as a definition."""
    definitions = {schema_name(rt): _schema(rt) for rt in registry.all()}
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": {},
        "definitions": definitions,
    }
