"""field.Error constructors rendered as Status causes, with Go's printing of the values.

Messages follow k8s.io/apimachinery pkg/util/validation/field as vendored by a 1.32 server
(e.g. "Too long: may not be more than 5 bytes", "Too many: 3: must have at most 2 items").
"""

from __future__ import annotations

import decimal
import json
import math
from typing import Any

from kvsriov.sandbox.apiserver.schema.paths import Cause

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


def go_quote(text: str) -> str:
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
        return go_quote(value)
    if isinstance(value, dict):
        inner = ", ".join(f"{go_quote(k)}:{_go_sharp(value[k])}" for k in sorted(value))
        return "map[string]interface {}{" + inner + "}"
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(_go_sharp(v) for v in value) + "}"
    return _go_scalar(value)


def _bad_value(value: Any) -> str:
    """How field.Error.ErrorBody prints a BadValue: a nil as "null", the rest as %q, %#v or %v."""
    return '"null"' if value is None else _go_sharp(value)


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


def invalid(field: str, value: Any, detail: str) -> Cause:
    return _cause("FieldValueInvalid", f"Invalid value: {_bad_value(value)}: {detail}", field)


def type_invalid(field: str, value: Any, detail: str) -> Cause:
    return _cause("FieldValueTypeInvalid", f"Invalid value: {_bad_value(value)}: {detail}", field)


def required(field: str, detail: str = "") -> Cause:
    return _cause("FieldValueRequired", "Required value" + (f": {detail}" if detail else ""), field)


def forbidden(field: str, detail: str) -> Cause:
    return _cause("FieldValueForbidden", "Forbidden" + (f": {detail}" if detail else ""), field)


def duplicate(field: str, value: Any) -> Cause:
    return _cause("FieldValueDuplicate", f"Duplicate value: {_bad_value(value)}", field)


def not_supported(field: str, value: Any, allowed: list[Any]) -> Cause:
    message = f"Unsupported value: {_bad_value(value)}"
    if allowed:
        quoted = [go_quote(v if isinstance(v, str) else _go_json(v)) for v in allowed]
        message += ": supported values: " + ", ".join(quoted)
    return _cause("FieldValueNotSupported", message, field)


def too_long(field: str, max_length: int) -> Cause:
    """field.TooLong (1.32: always "bytes", value omitted; newer releases say "1 byte")."""
    return _cause("FieldValueTooLong", f"Too long: may not be more than {max_length} bytes", field)


def too_many(field: str, actual: int, maximum: int) -> Cause:
    """field.TooMany (1.32: always "items"; newer releases say "1 item")."""
    return _cause("FieldValueTooMany", f"Too many: {actual}: must have at most {maximum} items", field)
