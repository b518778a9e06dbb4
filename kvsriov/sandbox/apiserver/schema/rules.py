"""x-kubernetes-validations: CEL rules evaluated per schema node (compiled and run by ``cel.py``).

Covers what the rule sees (``to_cel``: declared fields only, escaped, typed like k8s does), old
values correlated for transition rules and ratcheting, messageExpression, reason and fieldPath.
Not reproduced: the CEL cost budget.
"""

from __future__ import annotations

import re
from typing import Any

from kvsriov.sandbox.apiserver import cel as celrules
from kvsriov.sandbox.apiserver.schema.field_errors import duplicate, forbidden, invalid, required
from kvsriov.sandbox.apiserver.schema.formats import parse_date_time
from kvsriov.sandbox.apiserver.schema.paths import (
    MISSING,
    Cause,
    Schema,
    child,
    correlate_list,
    field_schema,
    index,
    is_resource_root,
    json_equal,
)

_RULES_CACHE: dict[int, tuple[Schema, bool]] = {}


def has_rules(schema: Any) -> bool:
    """Whether any rule sits at or under this schema node (cached per node, kept alive)."""
    if not isinstance(schema, dict):
        return False
    cached = _RULES_CACHE.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    found = bool(schema.get("x-kubernetes-validations")) or any(
        has_rules(sub) for sub in _sub_schemas(schema)
    )
    if len(_RULES_CACHE) > 50_000:  # schemas rebuilt per request must not grow it forever
        _RULES_CACHE.clear()
    _RULES_CACHE[id(schema)] = (schema, found)
    return found


def _sub_schemas(schema: Schema) -> list[Any]:
    subs: list[Any] = list((schema.get("properties") or {}).values())
    subs += [schema.get("items"), schema.get("additionalProperties")]
    return subs + list(schema.get("allOf") or [])


def validate_rules(schema: Schema, obj: dict[str, Any], old: Any, out: list[Cause]) -> None:
    """Evaluate every rule of the object's schema (`old` is MISSING on create)."""
    _cel_node(schema, obj, _CelContext(old, "", True, False), out)


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
        ratchet = json_equal(old, value) if old is not MISSING else self.ratchet
        return _CelContext(old, path, resource_root, ratchet)


def _cel_node(schema: Schema, value: Any, ctx: _CelContext, out: list[Cause]) -> None:
    if value is None or not has_rules(schema):
        return
    if ctx.old is not MISSING and ctx.path == "":
        ctx = _CelContext(ctx.old, "", ctx.resource_root, json_equal(ctx.old, value))
    rules = list(schema.get("x-kubernetes-validations") or [])
    for branch in schema.get("allOf") or []:
        rules.extend(branch.get("x-kubernetes-validations") or [])
    if rules:
        _RuleRun(schema, value, ctx).run(rules, out)
    if isinstance(value, dict):
        _cel_map(schema, value, ctx, out)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        items = schema["items"]
        olds = correlate_list(schema, ctx.old, value)
        for i, item in enumerate(value):
            sub_ctx = ctx.child(olds[i], index(ctx.path, i), item, is_resource_root(items))
            _cel_node(items, item, sub_ctx, out)


def _cel_map(schema: Schema, value: dict[str, Any], ctx: _CelContext, out: list[Cause]) -> None:
    correlatable = schema.get("x-kubernetes-map-type", "granular") == "granular" and isinstance(ctx.old, dict)
    for name, item in value.items():
        old = ctx.old.get(name, MISSING) if correlatable else MISSING
        found = field_schema(schema, ctx.path, name)
        if found is None:
            continue
        sub, path = found
        _cel_node(sub, item, ctx.child(old, path, item, is_resource_root(sub)), out)


class _RuleRun:
    """Evaluates the rules of one schema node against one value (self converted once)."""

    def __init__(self, schema: Schema, value: Any, ctx: _CelContext) -> None:
        self.schema = schema
        self.ctx = ctx
        self.self_value = to_cel(schema, value, ctx.resource_root)
        self.has_old = ctx.old is not MISSING and ctx.old is not None
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
            return invalid(self.ctx.path, self.type_name, f"rule compile error: {program.error}")
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
        return invalid(self.ctx.path, self.type_name, detail)

    def _failure_cause(self, rule: dict[str, Any], optional: bool) -> Cause:
        field = self.ctx.path
        if rule.get("fieldPath"):
            relative = _rule_field_path(self.schema, str(rule["fieldPath"]))
            field = child(field, relative) if relative else field
        detail = self._message_expression(rule, optional) or _rule_message(rule)
        reason = rule.get("reason") or "FieldValueInvalid"
        if reason == "FieldValueForbidden":
            return forbidden(field, detail)
        if reason == "FieldValueRequired":
            return required(field, detail)
        if reason == "FieldValueDuplicate":
            return duplicate(field, self.type_name)
        return invalid(field, self.type_name, detail)

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
        found = field_schema(node, path, name)
        if found is None:
            return ""
        node, path = found
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
        items = raw if isinstance(raw := schema.get("items"), dict) else {}
        return [to_cel(items, v, is_resource_root(items)) for v in value]
    if schema.get("type") == "number" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and schema.get("format") in ("date-time", "datetime"):
        timestamp = parse_date_time(value)
        return value if timestamp is None else timestamp
    return value


def _map_to_cel(schema: Schema, value: dict[str, Any], resource_root: bool) -> dict[str, Any]:
    props: dict[str, Schema] | None = schema.get("properties")
    additional = schema.get("additionalProperties")
    if props is None and isinstance(additional, dict):
        return {k: to_cel(additional, v, is_resource_root(additional)) for k, v in value.items()}
    if props is None and not resource_root:
        return value
    out: dict[str, Any] = {}
    for name, item in value.items():
        if resource_root and name in ("apiVersion", "kind", "metadata"):
            continue
        sub = (props or {}).get(name)
        cel_name = celrules.escape_property(name) if sub is not None else None
        if sub is not None and cel_name is not None:
            out[cel_name] = to_cel(sub, item, is_resource_root(sub))
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
