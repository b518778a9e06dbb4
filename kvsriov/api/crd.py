"""Render each kind's CustomResourceDefinition from its pydantic models.

Pydantic emits JSON Schema (draft 2020-12); a CRD needs a *structural*
OpenAPI v3 schema: no `$ref`, every node typed, `anyOf` only as a value
validation, no `additionalProperties: false`, no `title`. The conversion here is
the only bridge, so the CRDs never drift from the models that the operator,
the agent and the webhooks validate with.
"""

from __future__ import annotations

import copy
from typing import Any, cast, get_args

from pydantic import BaseModel

from kvsriov.api.constants import GROUP, VERSION
from kvsriov.api.meta import KubeObject

JsonSchema = dict[str, Any]
_DROPPED_KEYS = ("title", "$defs", "discriminator")


def _resolve(node: JsonSchema, defs: dict[str, JsonSchema]) -> JsonSchema:
    ref = node.get("$ref")
    if ref is None:
        return node
    target = copy.deepcopy(defs[ref.rsplit("/", 1)[-1]])
    extra = {k: v for k, v in node.items() if k != "$ref"}
    target.update(extra)
    return target


def _without_null(node: JsonSchema, defs: dict[str, JsonSchema]) -> JsonSchema:
    """`X | None` becomes X: an absent field means "unset" and the API server prunes nulls.

    (A real server drops a null for a non-nullable field without default, so no
    client is hurt by not declaring `nullable`.)
    """
    options = node.get("anyOf")
    if not options:
        return node
    non_null = [o for o in options if o.get("type") != "null"]
    if len(non_null) != 1:
        raise ValueError(f"cannot make a structural schema from anyOf {options!r}")
    merged = _resolve(copy.deepcopy(non_null[0]), defs)
    for key, value in node.items():
        if key != "anyOf":
            merged[key] = value
    return merged


def structural(node: JsonSchema, defs: dict[str, JsonSchema], *, keep_defaults: bool = True) -> JsonSchema:
    """Convert one pydantic schema node (and its children) into structural OpenAPI v3."""
    node = _without_null(_resolve(node, defs), defs)
    out: JsonSchema = {}
    for key, value in node.items():
        if key in _DROPPED_KEYS:
            continue
        if key == "additionalProperties" and value is False:
            continue
        if key == "default" and (value is None or not keep_defaults):
            continue
        if key == "const":
            out["enum"] = [value]
            continue
        if key == "properties":
            out[key] = {
                name: structural(child, defs, keep_defaults=keep_defaults) for name, child in value.items()
            }
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = structural(value, defs, keep_defaults=keep_defaults)
        else:
            out[key] = value
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    if "properties" in out or ("additionalProperties" in out and "type" not in out):
        out["type"] = "object"
    if "type" not in out:
        raise ValueError(f"untyped schema node: {node!r}")
    return out


def _schema_of(model: type[BaseModel], *, keep_defaults: bool) -> JsonSchema:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})
    return structural(raw, defs, keep_defaults=keep_defaults)


def open_api_schema(kind: type[KubeObject]) -> JsonSchema:
    """The openAPIV3Schema of one kind.

    The spec keeps its defaults; the status has none, since its single writer
    (agent or operator) always writes it whole.
    """
    fields = kind.model_fields
    # pydantic types an annotation as `type[Any] | None`; every kind's spec is a model.
    spec_model = cast(type[BaseModel], fields["spec"].annotation)
    status_model = next(a for a in get_args(fields["status"].annotation) if a is not type(None))
    spec_schema = _schema_of(spec_model, keep_defaults=True)
    spec_schema.pop("description", None)
    status_schema = _schema_of(status_model, keep_defaults=False)
    status_schema.pop("description", None)
    root: JsonSchema = {
        "description": (kind.__doc__ or "").strip().splitlines()[0],
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec_schema,
            "status": status_schema,
        },
    }
    if fields["spec"].is_required():
        root["required"] = ["spec"]
    else:
        spec_schema["default"] = {}
    return root


def custom_resource_definition(kind: type[KubeObject]) -> dict[str, Any]:
    info = kind.crd
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{info.plural}.{GROUP}",
            "labels": {"app.kubernetes.io/name": "kvsriov", "app.kubernetes.io/part-of": "kvsriov"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Cluster",
            "names": {
                "kind": info.kind,
                "listKind": f"{info.kind}List",
                "plural": info.plural,
                "singular": info.singular,
                "shortNames": list(info.short_names),
                "categories": list(info.categories),
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": open_api_schema(kind)},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [dict(c) for c in info.printer_columns],
                }
            ],
        },
    }
