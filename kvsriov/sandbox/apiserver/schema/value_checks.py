"""OpenAPI value validations (kube-openapi pkg/validation/validate) and their error wording.

The validators run in kube-openapi's order (type, allOf/anyOf/oneOf/not, string, format, number,
array, enum, object); their results are turned into field errors the way apiextensions'
kubeOpenAPIResultToFieldErrors does. Validation ratcheting (CRDValidationRatcheting): the errors
of a value that deep-equals its correlated old value are dropped.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from kvsriov.sandbox.apiserver.schema.field_errors import (
    go_float,
    go_quote,
    invalid,
    not_supported,
    required,
    too_long,
    too_many,
    type_invalid,
)
from kvsriov.sandbox.apiserver.schema.formats import FORMATS
from kvsriov.sandbox.apiserver.schema.paths import (
    MISSING,
    Cause,
    Schema,
    child,
    correlate_list,
    err_field,
    index,
    json_equal,
    repeated_indexes,
)


def validate_value(schema: Schema, value: Any, path: str, old: Any, out: list[Cause]) -> None:
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
    if found and not (old is not MISSING and json_equal(old, value)):
        out.extend(found)


# --- type ----------------------------------------------------------------------------------------


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


def _data_format(value: Any) -> str:
    """The format kube-openapi infers for decoded JSON numbers (int64/float64)."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return "int64"
    return "float64" if isinstance(value, float) else ""


def _check_type_null(schema: Schema, path: str, out: list[Cause]) -> None:
    types = _schema_types(schema)
    if types and not schema.get("nullable"):
        detail = f'{path} in body must be of type {",".join(types)}: "null"'
        out.append(type_invalid(err_field(path), "null", detail))


def _check_type(schema: Schema, value: Any, path: str, out: list[Cause]) -> None:
    """typeValidator: 1.0 is an integer; a string/array with a format skips non-numeric checks."""
    types, fmt = _schema_types(schema), schema.get("format", "")
    if not types and not fmt:
        return
    kind, data_fmt = _json_kind(value), _data_format(value)
    float_int = kind == "number" and float(value).is_integer() and "integer" in types
    int_float = kind == "integer" and "number" in types
    lower = (fmt == "int64" and data_fmt == "int32") or (fmt == "float64" and data_fmt == "float32")
    if (
        kind not in ("string", "array")
        and fmt
        and not (kind in types or fmt == data_fmt or float_int or int_float or lower)
    ):
        detail = f'{path} in body must be of type {fmt}: "{data_fmt}"'
        out.append(type_invalid(err_field(path), data_fmt, detail))
        return
    if "number" not in types and "integer" not in types and fmt and kind in ("string", "array"):
        return
    if not (kind in types or float_int or int_float):
        detail = f'{path} in body must be of type {",".join(types)}: "{kind}"'
        out.append(type_invalid(err_field(path), kind, detail))


# --- string and format ---------------------------------------------------------------------------


def _check_string(schema: Schema, value: str, path: str, out: list[Cause]) -> None:
    """stringValidator: maxLength, minLength, pattern; stops at the first failure."""
    field = err_field(path)
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        out.append(too_long(field, int(schema["maxLength"])))
    elif "minLength" in schema and len(value) < schema["minLength"]:
        detail = f"{path} in body should be at least {schema['minLength']} chars long"
        out.append(invalid(field, value, detail))
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
        out.append(invalid(err_field(path), value, detail))
    elif not compiled.search(value):
        out.append(invalid(err_field(path), value, f"{path} in body should match '{pattern}'"))


def _check_format(schema: Schema, value: str, path: str, out: list[Cause]) -> None:
    """formatValidator, for the formats the real server keeps (unknown formats are ignored)."""
    fmt = schema.get("format")
    check = FORMATS.get(fmt or "")
    if check is not None and not check(value):
        detail = f"{path} in body must be of type {fmt}: {go_quote(value)}"
        out.append(type_invalid(err_field(path), value, detail))


# --- number --------------------------------------------------------------------------------------


def _number_text(limit: float, value: float) -> str:
    """Limits print as int64 when the data is an integer (kube-openapi's *NativeType paths)."""
    if isinstance(value, int):
        return str(int(limit))
    return go_float(float(limit))


def _check_number(schema: Schema, value: float, path: str, out: list[Cause]) -> None:
    """numberValidator: multipleOf, minimum, maximum (each reported)."""
    field = err_field(path)
    if "multipleOf" in schema and not _is_multiple(value, schema["multipleOf"]):
        factor = _number_text(schema["multipleOf"], value)
        out.append(invalid(field, value, f"{path} in body should be a multiple of {factor}"))
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
        out.append(invalid(err_field(path), value, detail))


def _is_multiple(value: float, factor: float) -> bool:
    if isinstance(value, int) and int(factor) == factor and factor >= 1:
        return value % int(factor) == 0
    ratio = value / factor if factor >= 1 else (1 / factor) * value
    nearest = round(ratio)
    return ratio == nearest or abs(ratio - nearest) <= 1e-9 * max(abs(ratio), 1.0)


# --- array, enum, object -------------------------------------------------------------------------


def _check_array(schema: Schema, value: list[Any], path: str, old: Any, out: list[Cause]) -> None:
    """schemaSliceValidator: items (correlated for ratcheting in map lists), min/max/uniqueItems."""
    items = schema.get("items")
    if isinstance(items, dict):
        old_items = correlate_list(schema, old, value)
        for i, item in enumerate(value):
            validate_value(items, item, index(path, i), old_items[i], out)
    field = err_field(path)
    if "minItems" in schema and len(value) < schema["minItems"]:
        detail = f"{path} in body should have at least {schema['minItems']} items"
        out.append(invalid(field, len(value), detail))
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        out.append(too_many(field, len(value), int(schema["maxItems"])))
    if schema.get("uniqueItems") and next(repeated_indexes(value), None) is not None:
        out.append(invalid(field, "", f"{path} in body shouldn't contain duplicates"))


def _check_enum(schema: Schema, value: Any, path: str, out: list[Cause]) -> None:
    """basicCommonValidator: the value must equal one of `enum` (null included)."""
    allowed = schema.get("enum")
    if not allowed:
        return
    if value is not None and any(json_equal(value, candidate) for candidate in allowed):
        return
    out.append(not_supported(err_field(path), value, list(allowed)))


def _check_object(schema: Schema, value: dict[str, Any], path: str, old: Any, out: list[Cause]) -> None:
    """objectValidator: min/maxProperties (returning early), additionalProperties, properties, required."""
    field = err_field(path)
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        detail = f"{path} in body should have at least {schema['minProperties']} properties"
        out.append(invalid(field, len(value), detail))
        return
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        out.append(too_many(field, len(value), int(schema["maxProperties"])))
        return
    props: dict[str, Schema] = schema.get("properties") or {}
    old_map = old if isinstance(old, dict) else {}
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        for name, item in value.items():
            if name not in props:
                validate_value(additional, item, f"{path}.{name}", old_map.get(name, MISSING), out)
    for name, prop in props.items():
        if name in value:
            validate_value(prop, value[name], child(path, name), old_map.get(name, MISSING), out)
    for name in schema.get("required") or []:
        if name not in value:
            out.append(required(err_field(f"{path}.{name}")))


# --- composition ---------------------------------------------------------------------------------


def _check_composition(schema: Schema, value: Any, path: str, out: list[Cause]) -> None:
    """schemaPropsValidator: anyOf, oneOf, allOf, not (value validations only, no ratcheting)."""
    if schema.get("anyOf"):
        _check_any_of(schema["anyOf"], value, path, out)
    if schema.get("oneOf"):
        _check_one_of(schema["oneOf"], value, path, out)
    if schema.get("allOf"):
        _check_all_of(schema["allOf"], value, path, out)
    if isinstance(schema.get("not"), dict) and not _branch_errors(schema["not"], value, path):
        out.append(invalid("", "", f"{go_quote(path)} must not validate the schema (not)"))


def _branch_errors(branch: Schema, value: Any, path: str) -> list[Cause]:
    errors: list[Cause] = []
    validate_value(branch, value, path, MISSING, errors)
    return errors


def _check_any_of(branches: list[Schema], value: Any, path: str, out: list[Cause]) -> None:
    results = [_branch_errors(b, value, path) for b in branches]
    if any(not r for r in results):
        return
    out.append(invalid("", "", f"{go_quote(path)} must validate at least one schema (anyOf)"))
    fewest = min(results, key=len)  # not inline: mypy would infer min() from extend()
    out.extend(fewest)


def _check_one_of(branches: list[Schema], value: Any, path: str, out: list[Cause]) -> None:
    results = [_branch_errors(b, value, path) for b in branches]
    valid = sum(1 for r in results if not r)
    if valid == 1:
        return
    more = "Found none valid" if valid == 0 else f"Found {valid} valid alternatives"
    out.append(invalid("", "", f"{go_quote(path)} must validate one and only one schema (oneOf). {more}"))
    if valid == 0:
        fewest = min(results, key=len)
        out.extend(fewest)


def _check_all_of(branches: list[Schema], value: Any, path: str, out: list[Cause]) -> None:
    results = [_branch_errors(b, value, path) for b in branches]
    for result in results:
        out.extend(result)
    failed = sum(1 for r in results if r)
    if failed:
        more = ". None validated" if failed == len(results) else ""
        out.append(invalid("", "", f"{go_quote(path)} must validate all the schemas (allOf){more}"))
