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
(e.g. "some validation rules were not checked ...") has no "field" key.

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
`_FORMATS` (e.g. hostname, email, duration are not checked).
"""
from __future__ import annotations

import base64
import binascii
import copy
import datetime
import decimal
import functools
import ipaddress
import json
import math
import re
from collections.abc import Callable
from typing import Any

from kvsriov.sandbox.apiserver import cel as celrules

Cause = dict[str, str]
Schema = dict[str, Any]

_MISSING: Any = object()

# Fields of ObjectMeta (everything else under metadata is an unknown field for strict decoding).
OBJECT_META_FIELDS = frozenset({
    "name", "generateName", "namespace", "labels", "annotations", "finalizers", "ownerReferences",
    "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
    "deletionGracePeriodSeconds", "managedFields", "selfLink",
})
_BLOCKING_REASONS = frozenset({
    "FieldValueNotSupported", "FieldValueRequired", "FieldValueTooLong", "FieldValueTooMany",
    "FieldValueTypeInvalid",
})
_SKIPPED_CEL_MESSAGE = (
    'Invalid value: "null": some validation rules were not checked because the object was invalid; '
    "correct the existing errors to complete validation"
)


# --- paths ---------------------------------------------------------------------------------------
# field.Path rendering (pruning, list types, CEL): child "a.b", index "a[0]", key "a[k]".


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def _key(path: str, key: str) -> str:
    return f"{path}[{key}]"


def _is_resource_root(schema: Schema) -> bool:
    return schema.get("x-kubernetes-embedded-resource") is True


# --- Go-compatible rendering of values in messages -----------------------------------------------


def go_float(value: float) -> str:
    """Go's %v of a float64 (shortest digits, %e form when the exponent is < -4 or >= 6).

    4094.0 -> "4094", 0.5 -> "0.5", 1e6 -> "1e+06": what the real server prints for limits and
    values that were JSON numbers with a fraction or an exponent.
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    number = decimal.Decimal(repr(abs(value)))
    sign = "-" if value < 0 else ""
    exponent = number.adjusted()
    if -4 <= exponent < 6:
        return sign + f"{number.normalize():f}"
    digits = "".join(str(d) for d in number.as_tuple().digits).rstrip("0") or "0"
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent):02d}"


def _go_quote(text: str) -> str:
    """Go's %q / strconv.Quote (close enough: JSON string escaping, UTF-8 kept)."""
    return json.dumps(text, ensure_ascii=False)


def _go_scalar(value: Any) -> str:
    """%v of a JSON scalar as Go decodes it (int64, float64, bool)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    return str(value)


def _go_sharp(value: Any) -> str:
    """Go's %#v of an unstructured JSON value (used by field errors for maps and lists)."""
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, str):
        return _go_quote(value)
    if isinstance(value, dict):
        inner = ", ".join(f"{_go_quote(k)}:{_go_sharp(value[k])}" for k in sorted(value))
        return "map[string]interface {}{" + inner + "}"
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(_go_sharp(v) for v in value) + "}"
    return _go_scalar(value)


def _bad_value(value: Any) -> str:
    """How field.Error.ErrorBody prints a BadValue."""
    if value is None:
        return '"null"'
    if isinstance(value, str):
        return _go_quote(value)
    if isinstance(value, dict | list):
        return _go_sharp(value)
    return _go_scalar(value)


def _go_json(value: Any) -> str:
    """json.Marshal of an enum value (integral floats without ".0")."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --- causes (field.Error constructors, rendered as Status causes) ---------------------------------


def _cause(reason: str, message: str, field: str) -> Cause:
    cause = {"reason": reason, "message": message}
    if field:
        cause["field"] = field
    return cause


def _invalid(field: str, value: Any, detail: str) -> Cause:
    return _cause("FieldValueInvalid", f"Invalid value: {_bad_value(value)}: {detail}", field)


def _type_invalid(field: str, value: Any, detail: str) -> Cause:
    return _cause("FieldValueTypeInvalid", f"Invalid value: {_bad_value(value)}: {detail}", field)


def _required(field: str, detail: str = "") -> Cause:
    return _cause("FieldValueRequired", "Required value" + (f": {detail}" if detail else ""), field)


def _forbidden(field: str, detail: str) -> Cause:
    return _cause("FieldValueForbidden", "Forbidden" + (f": {detail}" if detail else ""), field)


def _duplicate(field: str, value: Any) -> Cause:
    return _cause("FieldValueDuplicate", f"Duplicate value: {_bad_value(value)}", field)


def _not_supported(field: str, value: Any, allowed: list[Any]) -> Cause:
    message = f"Unsupported value: {_bad_value(value)}"
    if allowed:
        quoted = [_go_quote(v if isinstance(v, str) else _go_json(v)) for v in allowed]
        message += ": supported values: " + ", ".join(quoted)
    return _cause("FieldValueNotSupported", message, field)


def _too_long(field: str, max_length: int) -> Cause:
    return _cause("FieldValueTooLong", f"Too long: may not be more than {max_length} bytes", field)


def _too_many(field: str, actual: int, maximum: int) -> Cause:
    return _cause("FieldValueTooMany", f"Too many: {actual}: must have at most {maximum} items", field)


# --- pruning -------------------------------------------------------------------------------------


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
            _prune_value(items, item, _index(path, i), unknown, _is_resource_root(items))


def _prune_map(
    schema: Schema, value: dict[str, Any], path: str, unknown: list[str], resource_root: bool
) -> None:
    props: dict[str, Schema] | None = schema.get("properties")
    additional = schema.get("additionalProperties")
    preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
    for key in list(value):
        child = value[key]
        if resource_root and key in ("apiVersion", "kind"):
            continue
        if resource_root and key == "metadata":
            _prune_metadata(child, _child(path, key), unknown)
        elif props is not None and key in props:
            _prune_property(props[key], value, key, path, unknown)
        elif isinstance(additional, dict):
            _prune_value(additional, child, _key(path, key), unknown, _is_resource_root(additional))
        elif not (preserve or additional is True):
            del value[key]
            unknown.append(_child(path, key))


def _prune_property(prop: Schema, parent: dict[str, Any], key: str, path: str, unknown: list[str]) -> None:
    """Declared property: drop a non-nullable null without default, else recurse."""
    child = parent[key]
    if child is None and not prop.get("nullable") and "default" not in prop:
        del parent[key]
        return
    _prune_value(prop, child, _child(path, key), unknown, _is_resource_root(prop))


def _prune_metadata(metadata: Any, path: str, unknown: list[str]) -> None:
    """ObjectMeta is decoded strictly: anything but its own fields is unknown."""
    if not isinstance(metadata, dict):
        return
    for key in list(metadata):
        if key not in OBJECT_META_FIELDS:
            del metadata[key]
            unknown.append(_child(path, key))


# --- defaulting ----------------------------------------------------------------------------------


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
    for key, prop in props.items():
        if _needs_default(prop, key in value, value.get(key)):
            value[key] = copy.deepcopy(prop["default"])
    additional = schema.get("additionalProperties")
    for key in list(value):
        if key in props:
            _default(props[key], value[key])
        elif isinstance(additional, dict):
            if _needs_default(additional, True, value[key]):
                value[key] = copy.deepcopy(additional["default"])
            _default(additional, value[key])


# --- OpenAPI schema validation (kube-openapi pkg/validation/validate) ----------------------------


def validate(schema: Schema, obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[Cause]:
    """Schema, list-type and CEL validation of `obj` (`old` on updates), as Status causes."""
    old_value = _MISSING if old is None else old
    causes: list[Cause] = []
    _validate_node(schema, obj, "", old_value, causes)
    causes.extend(_validate_list_types(schema, obj, ""))
    if not _has_rules(schema):
        return causes  # the real server has no CEL validator for such a CRD, hence no placeholder
    if any(c["reason"] in _BLOCKING_REASONS for c in causes):
        causes.append({"reason": "FieldValueInvalid", "message": _SKIPPED_CEL_MESSAGE})
    else:
        _cel_node(schema, obj, _CelContext(old_value, "", True, False), causes)
    return causes


def _err_field(name: str) -> str:
    """kube-openapi error names start with "." for required/additional properties of the root."""
    return name[1:] if name.startswith(".") else name


def _json_kind(value: Any) -> str:
    """The JSON schema type of a decoded value (what kube-openapi's schemaInfoForType infers)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _schema_types(schema: Schema) -> list[str]:
    if schema.get("x-kubernetes-int-or-string"):
        return ["integer", "string"]
    declared = schema.get("type")
    return [declared] if declared else []


def _validate_node(schema: Schema, value: Any, path: str, old: Any, out: list[Cause]) -> None:
    """One SchemaValidator.Validate, with ratcheting: errors under an unchanged value are dropped."""
    found: list[Cause] = []
    if value is None:
        _check_type_null(schema, path, found)
        _check_enum(schema, value, path, found)
    else:
        _check_type(schema, value, path, found)
        _check_composition(schema, value, path, found)
        if isinstance(value, str):
            _check_string(schema, value, path, found)
            _check_format(schema, value, path, found)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            _check_number(schema, value, path, found)
        elif isinstance(value, list):
            _check_array(schema, value, path, old, found)
        _check_enum(schema, value, path, found)
        if isinstance(value, dict):
            _check_object(schema, value, path, old, found)
    if found and not (old is not _MISSING and _json_equal(old, value)):
        out.extend(found)


def _check_type_null(schema: Schema, path: str, out: list[Cause]) -> None:
    types = _schema_types(schema)
    if types and not schema.get("nullable"):
        detail = f'{path} in body must be of type {",".join(types)}: "null"'
        out.append(_type_invalid(_err_field(path), "null", detail))


def _data_format(value: Any) -> str:
    """The format kube-openapi infers for decoded JSON numbers (int64/float64)."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return "int64"
    return "float64" if isinstance(value, float) else ""


def _check_type(schema: Schema, value: Any, path: str, out: list[Cause]) -> None:
    """typeValidator: 1.0 is an integer; a string/array with a format skips non-numeric checks."""
    types, fmt = _schema_types(schema), schema.get("format", "")
    if not types and not fmt:
        return
    kind, data_fmt = _json_kind(value), _data_format(value)
    float_int = kind == "number" and float(value).is_integer() and "integer" in types
    int_float = kind == "integer" and "number" in types
    lower = (fmt == "int64" and data_fmt == "int32") or (fmt == "float64" and data_fmt == "float32")
    if kind not in ("string", "array") and fmt and not (
        kind in types or fmt == data_fmt or float_int or int_float or lower
    ):
        detail = f'{path} in body must be of type {fmt}: "{data_fmt}"'
        out.append(_type_invalid(_err_field(path), data_fmt, detail))
        return
    if "number" not in types and "integer" not in types and fmt and kind in ("string", "array"):
        return
    if not (kind in types or float_int or int_float):
        detail = f'{path} in body must be of type {",".join(types)}: "{kind}"'
        out.append(_type_invalid(_err_field(path), kind, detail))


def _check_string(schema: Schema, value: str, path: str, out: list[Cause]) -> None:
    """stringValidator: maxLength, minLength, pattern; stops at the first failure."""
    field = _err_field(path)
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        out.append(_too_long(field, int(schema["maxLength"])))
    elif "minLength" in schema and len(value) < schema["minLength"]:
        detail = f"{path} in body should be at least {schema['minLength']} chars long"
        out.append(_invalid(field, value, detail))
    elif schema.get("pattern"):
        _check_pattern(schema["pattern"], value, path, out)


@functools.lru_cache(maxsize=1024)
def _compile_pattern(pattern: str) -> re.Pattern[str] | str:
    """ECMA-262 patterns as Python regexes (close enough for CRD patterns); str = error text."""
    try:
        return re.compile(pattern)
    except re.error as exc:
        return str(exc)


def _check_pattern(pattern: str, value: str, path: str, out: list[Cause]) -> None:
    compiled = _compile_pattern(pattern)
    if isinstance(compiled, str):
        detail = f"{path} in body should match '{pattern}, but pattern is invalid: {compiled}'"
        out.append(_invalid(_err_field(path), value, detail))
    elif not compiled.search(value):
        out.append(_invalid(_err_field(path), value, f"{path} in body should match '{pattern}'"))


def _check_format(schema: Schema, value: str, path: str, out: list[Cause]) -> None:
    """formatValidator, for the formats the real server keeps (unknown formats are ignored)."""
    fmt = schema.get("format")
    check = _FORMATS.get(fmt or "")
    if check is not None and not check(value):
        detail = f"{path} in body must be of type {fmt}: {_go_quote(value)}"
        out.append(_type_invalid(_err_field(path), value, detail))


def _number_text(limit: float, value: float) -> str:
    """Limits print as int64 when the data is an integer (kube-openapi's *NativeType paths)."""
    if isinstance(value, int):
        return str(int(limit))
    return go_float(float(limit))


def _check_number(schema: Schema, value: float, path: str, out: list[Cause]) -> None:
    """numberValidator: multipleOf, minimum, maximum (each reported)."""
    field = _err_field(path)
    if "multipleOf" in schema and not _is_multiple(value, schema["multipleOf"]):
        factor = _number_text(schema["multipleOf"], value)
        out.append(_invalid(field, value, f"{path} in body should be a multiple of {factor}"))
    if "minimum" in schema:
        _check_bound(schema["minimum"], bool(schema.get("exclusiveMinimum")), value, path, "greater", out)
    if "maximum" in schema:
        _check_bound(schema["maximum"], bool(schema.get("exclusiveMaximum")), value, path, "less", out)


def _check_bound(limit: float, exclusive: bool, value: float, path: str, side: str, out: list[Cause]) -> None:
    bound = int(limit) if isinstance(value, int) else limit
    if side == "less":
        failed = value >= bound if exclusive else value > bound
    else:
        failed = value <= bound if exclusive else value < bound
    if failed:
        relation = f"should be {side} than" + ("" if exclusive else " or equal to")
        detail = f"{path} in body {relation} {_number_text(limit, value)}"
        out.append(_invalid(_err_field(path), value, detail))


def _is_multiple(value: float, factor: float) -> bool:
    if isinstance(value, int) and int(factor) == factor and factor >= 1:
        return value % int(factor) == 0
    ratio = value / factor if factor >= 1 else (1 / factor) * value
    nearest = round(ratio)
    return ratio == nearest or abs(ratio - nearest) <= 1e-9 * max(abs(ratio), 1.0)


def _check_array(schema: Schema, value: list[Any], path: str, old: Any, out: list[Cause]) -> None:
    """schemaSliceValidator: items (correlated for ratcheting in map lists), min/max/uniqueItems."""
    items = schema.get("items")
    if isinstance(items, dict):
        old_items = _correlate_list(schema, old, value)
        for i, item in enumerate(value):
            _validate_node(items, item, _index(path, i), old_items[i], out)
    field = _err_field(path)
    if "minItems" in schema and len(value) < schema["minItems"]:
        detail = f"{path} in body should have at least {schema['minItems']} items"
        out.append(_invalid(field, len(value), detail))
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        out.append(_too_many(field, len(value), int(schema["maxItems"])))
    if schema.get("uniqueItems") and _has_duplicates(value):
        out.append(_invalid(field, "", f"{path} in body shouldn't contain duplicates"))


def _has_duplicates(value: list[Any]) -> bool:
    seen: list[Any] = []
    for item in value:
        if any(_json_equal(item, s) for s in seen):
            return True
        seen.append(item)
    return False


def _json_equal(a: Any, b: Any) -> bool:
    """Deep equality that, unlike ==, keeps true != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b if not isinstance(a, dict | list) else _container_equal(a, b)


def _container_equal(a: dict[str, Any] | list[Any], b: Any) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if not isinstance(b, list) or len(a) != len(b):
        return False
    return all(_json_equal(x, y) for x, y in zip(a, b, strict=True))


def _map_key(schema: Schema, item: Any) -> tuple[Any, ...] | None:
    if not isinstance(item, dict):
        return None
    keys: list[str] = schema.get("x-kubernetes-list-map-keys") or []
    return tuple(json.dumps(item.get(k), sort_keys=True) for k in keys)


def _correlate_list(schema: Schema, old: Any, value: list[Any]) -> list[Any]:
    """Old item of each new item: by keys for list-type map, none otherwise (kube correlation)."""
    if schema.get("x-kubernetes-list-type") != "map" or not isinstance(old, list):
        return [_MISSING] * len(value)
    by_key = {_map_key(schema, item): item for item in old if isinstance(item, dict)}
    return [by_key.get(_map_key(schema, item), _MISSING) for item in value]


def _check_enum(schema: Schema, value: Any, path: str, out: list[Cause]) -> None:
    """basicCommonValidator: the value must equal one of `enum` (null included)."""
    allowed = schema.get("enum")
    if not allowed:
        return
    if value is not None and any(_json_equal(value, candidate) for candidate in allowed):
        return
    out.append(_not_supported(_err_field(path), value, list(allowed)))


def _check_object(schema: Schema, value: dict[str, Any], path: str, old: Any, out: list[Cause]) -> None:
    """objectValidator: min/maxProperties (returning early), additionalProperties, properties, required."""
    field = _err_field(path)
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        detail = f"{path} in body should have at least {schema['minProperties']} properties"
        out.append(_invalid(field, len(value), detail))
        return
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        out.append(_too_many(field, len(value), int(schema["maxProperties"])))
        return
    props: dict[str, Schema] = schema.get("properties") or {}
    old_map = old if isinstance(old, dict) else {}
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        for key, item in value.items():
            if key not in props:
                _validate_node(additional, item, f"{path}.{key}", old_map.get(key, _MISSING), out)
    for key, prop in props.items():
        if key in value:
            _validate_node(prop, value[key], _child(path, key), old_map.get(key, _MISSING), out)
    for key in schema.get("required") or []:
        if key not in value:
            out.append(_required(_err_field(f"{path}.{key}")))


def _check_composition(schema: Schema, value: Any, path: str, out: list[Cause]) -> None:
    """schemaPropsValidator: anyOf, oneOf, allOf, not (value validations only, no ratcheting)."""
    if schema.get("anyOf"):
        _check_any_of(schema["anyOf"], value, path, out)
    if schema.get("oneOf"):
        _check_one_of(schema["oneOf"], value, path, out)
    if schema.get("allOf"):
        _check_all_of(schema["allOf"], value, path, out)
    if isinstance(schema.get("not"), dict) and not _branch_errors(schema["not"], value, path):
        out.append(_invalid("", "", f"{_go_quote(path)} must not validate the schema (not)"))


def _branch_errors(branch: Schema, value: Any, path: str) -> list[Cause]:
    errors: list[Cause] = []
    _validate_node(branch, value, path, _MISSING, errors)
    return errors


def _check_any_of(branches: list[Schema], value: Any, path: str, out: list[Cause]) -> None:
    results = [_branch_errors(b, value, path) for b in branches]
    if any(not r for r in results):
        return
    out.append(_invalid("", "", f"{_go_quote(path)} must validate at least one schema (anyOf)"))
    out.extend(min(results, key=len))


def _check_one_of(branches: list[Schema], value: Any, path: str, out: list[Cause]) -> None:
    results = [_branch_errors(b, value, path) for b in branches]
    valid = sum(1 for r in results if not r)
    if valid == 1:
        return
    more = "Found none valid" if valid == 0 else f"Found {valid} valid alternatives"
    out.append(_invalid("", "", f"{_go_quote(path)} must validate one and only one schema (oneOf). {more}"))
    if valid == 0:
        out.extend(min(results, key=len))


def _check_all_of(branches: list[Schema], value: Any, path: str, out: list[Cause]) -> None:
    results = [_branch_errors(b, value, path) for b in branches]
    for result in results:
        out.extend(result)
    failed = sum(1 for r in results if r)
    if failed:
        more = ". None validated" if failed == len(results) else ""
        out.append(_invalid("", "", f"{_go_quote(path)} must validate all the schemas (allOf){more}"))


# --- formats kept by the real server (strfmt.Default, minus what k8s strips) ---------------------

_UUID = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?{v}[0-9a-fA-F]{3}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
_MAC = re.compile(
    r"^([0-9a-fA-F]{2}([:-])){5}[0-9a-fA-F]{2}$|^([0-9a-fA-F]{2}([:-])){7}[0-9a-fA-F]{2}$"
    r"|^([0-9a-fA-F]{2}([:-])){19}[0-9a-fA-F]{2}$|^([0-9a-fA-F]{4}\.){2}[0-9a-fA-F]{4}$"
)


def _uuid_check(version: str) -> Callable[[str], bool]:
    pattern = re.compile("^" + _UUID.replace("{v}", version) + "$")
    return lambda s: bool(pattern.match(s))


def _is_ip(text: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(text.split("%")[0]).version == version or (
            version == 6 and ":" in text
        )
    except ValueError:
        return False


def _is_cidr(text: str) -> bool:
    try:
        ipaddress.ip_interface(text)
    except ValueError:
        return False
    return "/" in text


def _is_date(text: str) -> bool:
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def _is_date_time(text: str) -> bool:
    if not _DATE_TIME.match(text):
        return False
    try:
        datetime.datetime.fromisoformat(text.upper().replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        return False
    return True


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


_FORMATS: dict[str, Callable[[str], bool]] = {
    "ipv4": lambda s: _is_ip(s, 4) and "." in s,
    "ipv6": lambda s: _is_ip(s, 6),
    "cidr": _is_cidr,
    "mac": lambda s: bool(_MAC.match(s)),
    "uuid": _uuid_check("[0-9a-fA-F]"),
    "uuid3": _uuid_check("3"),
    "uuid4": _uuid_check("4"),
    "uuid5": _uuid_check("5"),
    "date": _is_date,
    "date-time": _is_date_time,
    "datetime": _is_date_time,
    "byte": _is_base64,
}


# --- x-kubernetes-list-type (apiextensions pkg/apiserver/schema/listtype) ------------------------


def _validate_list_types(schema: Schema, value: Any, path: str) -> list[Cause]:
    """Duplicate items of list-type set and duplicate keys of list-type map."""
    out: list[Cause] = []
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        list_type = schema.get("x-kubernetes-list-type")
        if list_type == "set":
            out.extend(_set_duplicates(value, path))
        elif list_type == "map":
            out.extend(_map_duplicates(schema, value, path))
        for i, item in enumerate(value):
            out.extend(_validate_list_types(schema["items"], item, _index(path, i)))
    elif isinstance(value, dict):
        props: dict[str, Schema] = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                out.extend(_validate_list_types(props[key], item, _child(path, key)))
            elif isinstance(additional, dict):
                out.extend(_validate_list_types(additional, item, _key(path, key)))
    return out


def _set_duplicates(value: list[Any], path: str) -> list[Cause]:
    out: list[Cause] = []
    for i, item in enumerate(value):
        if any(_json_equal(item, earlier) for earlier in value[:i]):
            out.append(_duplicate(_index(path, i), item))
    return out


def _map_duplicates(schema: Schema, value: list[Any], path: str) -> list[Cause]:
    keys: list[str] = schema.get("x-kubernetes-list-map-keys") or []
    seen: set[tuple[Any, ...] | None] = set()
    out: list[Cause] = []
    for i, item in enumerate(value):
        key = _map_key(schema, item)
        if key is None:
            continue
        if key in seen:
            out.append(_duplicate(_index(path, i), {k: item[k] for k in keys if k in item}))
        seen.add(key)
    return out


# --- CEL (x-kubernetes-validations) --------------------------------------------------------------

_RULES_CACHE: dict[int, tuple[Schema, bool]] = {}


def _has_rules(schema: Any) -> bool:
    """Whether any rule sits at or under this schema node (cached per node, kept alive)."""
    if not isinstance(schema, dict):
        return False
    cached = _RULES_CACHE.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    found = bool(schema.get("x-kubernetes-validations")) or any(
        _has_rules(sub) for sub in _sub_schemas(schema)
    )
    if len(_RULES_CACHE) > 50_000:  # schemas rebuilt per request must not grow it forever
        _RULES_CACHE.clear()
    _RULES_CACHE[id(schema)] = (schema, found)
    return found


def _sub_schemas(schema: Schema) -> list[Any]:
    subs: list[Any] = list((schema.get("properties") or {}).values())
    subs += [schema.get("items"), schema.get("additionalProperties")]
    return subs + list(schema.get("allOf") or [])


class _CelContext:
    """Where a CEL node sits: its correlated old value, field path, and ratcheting state."""

    __slots__ = ("old", "path", "ratchet", "resource_root")

    def __init__(self, old: Any, path: str, resource_root: bool, ratchet: bool) -> None:
        self.old = old
        self.path = path
        self.resource_root = resource_root
        self.ratchet = ratchet

    def child(self, old: Any, path: str, value: Any, resource_root: bool) -> _CelContext:
        """Errors of unchanged correlated values are ratcheted; uncorrelated ones follow the parent."""
        ratchet = _json_equal(old, value) if old is not _MISSING else self.ratchet
        return _CelContext(old, path, resource_root, ratchet)


def _cel_node(schema: Schema, value: Any, ctx: _CelContext, out: list[Cause]) -> None:
    if value is None or not _has_rules(schema):
        return
    if ctx.old is not _MISSING and ctx.path == "":
        ctx = _CelContext(ctx.old, "", ctx.resource_root, _json_equal(ctx.old, value))
    rules = list(schema.get("x-kubernetes-validations") or [])
    for branch in schema.get("allOf") or []:
        rules.extend(branch.get("x-kubernetes-validations") or [])
    if rules:
        _RuleRun(schema, value, ctx).run(rules, out)
    if isinstance(value, dict):
        _cel_map(schema, value, ctx, out)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        items = schema["items"]
        olds = _correlate_list(schema, ctx.old, value)
        for i, item in enumerate(value):
            child = ctx.child(olds[i], _index(ctx.path, i), item, _is_resource_root(items))
            _cel_node(items, item, child, out)


def _cel_map(schema: Schema, value: dict[str, Any], ctx: _CelContext, out: list[Cause]) -> None:
    props: dict[str, Schema] = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    correlatable = schema.get("x-kubernetes-map-type", "granular") == "granular" and isinstance(ctx.old, dict)
    for key, item in value.items():
        old = ctx.old.get(key, _MISSING) if correlatable else _MISSING
        if key in props:
            sub, path = props[key], _child(ctx.path, key)
        elif isinstance(additional, dict):
            sub, path = additional, _key(ctx.path, key)
        else:
            continue
        _cel_node(sub, item, ctx.child(old, path, item, _is_resource_root(sub)), out)


class _RuleRun:
    """Evaluates the rules of one schema node against one value (self converted once)."""

    def __init__(self, schema: Schema, value: Any, ctx: _CelContext) -> None:
        self.schema = schema
        self.ctx = ctx
        self.self_value = to_cel(schema, value, ctx.resource_root)
        self.has_old = ctx.old is not _MISSING and ctx.old is not None
        self.old_value = to_cel(schema, ctx.old, ctx.resource_root) if self.has_old else None
        self.type_name = schema.get("type", "")

    def run(self, rules: list[dict[str, Any]], out: list[Cause]) -> None:
        for rule in rules:
            cause = self._evaluate(rule)
            if cause is not None:
                out.append(cause)

    def _variables(self, optional: bool) -> dict[str, Any]:
        """self and oldSelf (always bound: the evaluation context is reused between rules)."""
        if optional:
            return {"self": self.self_value, "oldSelf": celrules.optional_of(self.old_value, self.has_old)}
        return {"self": self.self_value, "oldSelf": self.old_value}

    def _evaluate(self, rule: dict[str, Any]) -> Cause | None:
        program = celrules.compile_expression(str(rule.get("rule", "")))
        if program.error is not None:
            return _invalid(self.ctx.path, self.type_name, f"rule compile error: {program.error}")
        optional = rule.get("optionalOldSelf") is True
        if program.uses_old_self and not self.has_old and not optional:
            return None  # transition rules need an old value
        try:
            result = celrules.run(program, self._variables(optional))
        except celrules.RuleError as exc:
            return self._error_cause(rule, exc)
        if result is True or (self.ctx.ratchet and not program.uses_old_self):
            return None
        return self._failure_cause(rule, optional)

    def _error_cause(self, rule: dict[str, Any], exc: celrules.RuleError) -> Cause:
        text = _rule_error_string(rule)
        if exc.kind == "compile":
            detail = f"rule compile error: {exc.message}"
        elif exc.kind == "overload":
            detail = (
                f"'{exc.message}': call arguments did not match a supported operator, function or macro "
                f"signature for rule: {text}"
            )
        else:
            detail = f"{exc.message} evaluating rule: {text}"
        return _invalid(self.ctx.path, self.type_name, detail)

    def _failure_cause(self, rule: dict[str, Any], optional: bool) -> Cause:
        field = self.ctx.path
        if rule.get("fieldPath"):
            relative = _rule_field_path(self.schema, str(rule["fieldPath"]))
            field = _child(field, relative) if relative else field
        detail = self._message_expression(rule, optional) or _rule_message(rule)
        reason = rule.get("reason") or "FieldValueInvalid"
        if reason == "FieldValueForbidden":
            return _forbidden(field, detail)
        if reason == "FieldValueRequired":
            return _required(field, detail)
        if reason == "FieldValueDuplicate":
            return _duplicate(field, self.type_name)
        return _invalid(field, self.type_name, detail)

    def _message_expression(self, rule: dict[str, Any], optional: bool) -> str:
        """messageExpression result, or "" to fall back to message (its errors are only logged)."""
        source = rule.get("messageExpression")
        if not source:
            return ""
        compiled = celrules.compile_expression(str(source))
        try:
            result = celrules.run(compiled, self._variables(optional))
        except celrules.RuleError:
            return ""
        if not isinstance(result, str) or not result.strip() or "\n" in result:
            return ""
        return result.strip()


def _rule_message(rule: dict[str, Any]) -> str:
    message = str(rule.get("message") or "").strip()
    return message or f"failed rule: {_rule_error_string(rule)}"


def _rule_error_string(rule: dict[str, Any]) -> str:
    return str(rule.get("message") or "").strip() or str(rule.get("rule", "")).strip()


_FIELD_PATH_TOKEN = re.compile(r"\.([^.\[\]]+)|\['((?:[^'\\]|\\.)*)'\]")


def _rule_field_path(schema: Schema, field_path: str) -> str:
    """Normalize a rule's fieldPath (".a.b", ".m['k']") into field.Path form ("a.b", "m[k]")."""
    path, pos, node = "", 0, schema
    while pos < len(field_path):
        token = _FIELD_PATH_TOKEN.match(field_path, pos)
        if token is None:
            return ""
        name = token.group(1) if token.group(1) is not None else re.sub(r"\\(.)", r"\1", token.group(2))
        props = node.get("properties")
        if props is not None and name in props:
            path, node = _child(path, name), props[name]
        elif isinstance(node.get("additionalProperties"), dict):
            path, node = _key(path, name), node["additionalProperties"]
        else:
            return ""
        pos = token.end()
    return path


def to_cel(schema: Schema, value: Any, resource_root: bool = False) -> Any:
    """The value CEL sees as `self`: declared (escaped) fields only, typed like k8s does.

    Numbers of `type: number` become doubles, `format: date-time` strings timestamps; at a
    resource root apiVersion, kind and metadata.name/generateName are visible too.
    """
    if isinstance(value, dict):
        return _map_to_cel(schema, value, resource_root)
    if isinstance(value, list):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        return [to_cel(items, v, _is_resource_root(items)) for v in value]
    if schema.get("type") == "number" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and schema.get("format") in ("date-time", "datetime") and _is_date_time(value):
        return datetime.datetime.fromisoformat(value.upper().replace("Z", "+00:00").replace(" ", "T"))
    return value


def _map_to_cel(schema: Schema, value: dict[str, Any], resource_root: bool) -> dict[str, Any]:
    props: dict[str, Schema] | None = schema.get("properties")
    additional = schema.get("additionalProperties")
    if props is None and isinstance(additional, dict):
        return {k: to_cel(additional, v, _is_resource_root(additional)) for k, v in value.items()}
    if props is None and not resource_root:
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if resource_root and key in ("apiVersion", "kind", "metadata"):
            continue
        sub = (props or {}).get(key)
        name = celrules.escape_property(key) if sub is not None else None
        if sub is not None and name is not None:
            out[name] = to_cel(sub, item, _is_resource_root(sub))
    if resource_root:
        out.update(_type_and_object_meta(value))
    return out


def _type_and_object_meta(value: dict[str, Any]) -> dict[str, Any]:
    """What a rule at a resource root sees of apiVersion/kind/metadata (name, generateName only)."""
    out: dict[str, Any] = {k: value[k] for k in ("apiVersion", "kind") if isinstance(value.get(k), str)}
    metadata = value.get("metadata")
    if isinstance(metadata, dict):
        names = ("name", "generateName")
        out["metadata"] = {k: metadata[k] for k in names if isinstance(metadata.get(k), str)}
    return out
