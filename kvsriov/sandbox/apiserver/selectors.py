"""Label and field selectors for list and watch.

Label selectors follow the apimachinery grammar (``=``, ``==``, ``!=``, ``in``,
``notin``, ``key``, ``!key``). Field selectors accept ``=``, ``==`` and ``!=``
on any dotted path of the object (``metadata.name``, ``spec.nodeName``,
``involvedObject.uid``...): a superset of what the real server indexes, which
is what ``kubectl describe`` and node-scoped agents rely on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import bad_request
from .metadata import label_value, qualified_name, quoted

Predicate = Callable[[dict[str, Any]], bool]

_SET_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9./_-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_EQ_RE = re.compile(r"^\s*([A-Za-z0-9./_-]+)\s*(==|!=|=)\s*([A-Za-z0-9._-]*)\s*$")


def _split_top(selector: str) -> list[str]:
    """Split on commas outside parentheses (``a in (x,y),b`` has two terms)."""
    terms, depth, cur = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(cur)
            cur = ""
        else:
            cur += ch
    terms.append(cur)
    return [t for t in terms if t.strip()]


def _check_requirement(key: str, values: list[str]) -> None:
    """labels.NewRequirement: the key must be a qualified name and each value a label value
    (400, one requirement's errors aggregated as the real server words them)."""
    errors = []
    if problems := qualified_name(key):
        errors.append(f"<nil>: Invalid value: {quoted(key)}: {'; '.join(problems)}")
    for i, value in enumerate(values):
        if problems := label_value(value):
            errors.append(f"values[{i}][{key}]: Invalid value: {quoted(value)}: {'; '.join(problems)}")
    if errors:
        summary = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
        raise bad_request(f"unable to parse requirement: {summary}")


def _label_term(term: str) -> Predicate:
    m = _EQ_RE.match(term)
    if m:
        key, op, value = m.groups()
        _check_requirement(key, [value])
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    m = _SET_RE.match(term)
    if not m:
        raise bad_request(f"unable to parse requirement: {term!r}")
    neg, key, op, values = m.groups()
    if op:
        if neg:
            raise bad_request(f"unable to parse requirement: {term!r}")
        listed = [v.strip() for v in values.split(",") if v.strip()]
        _check_requirement(key, sorted(set(listed)))  # the Go parser keeps a sorted set
        allowed = set(listed)
        if op == "in":
            return lambda labels: labels.get(key) in allowed
        return lambda labels: labels.get(key) not in allowed
    _check_requirement(key, [])
    if neg:
        return lambda labels: key not in labels
    return lambda labels: key in labels


def parse_label_selector(selector: str | None) -> Predicate:
    """A predicate over whole objects; an empty selector matches everything."""
    terms = [_label_term(t) for t in _split_top(selector or "")]

    def match(obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(t(labels) for t in terms)

    return match


def field_value(obj: dict[str, Any], path: str) -> str:
    """The string form of a dotted path, ``""`` when absent (as the server's field sets do)."""
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return ""
        cur = cur[part]
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def parse_field_selector(selector: str | None) -> Predicate:
    """A predicate for a field selector such as ``involvedObject.name=x,type!=Normal``."""
    checks: list[tuple[str, bool, str]] = []
    for term in _split_top(selector or ""):
        m = re.match(r"^\s*([A-Za-z0-9._-]+)\s*(==|!=|=)\s*(.*?)\s*$", term)
        if not m:
            raise bad_request(f"invalid selector: {selector!r}; can't understand {term!r}")
        path, op, value = m.groups()
        checks.append((path, op == "!=", value))

    def match(obj: dict[str, Any]) -> bool:
        return all((field_value(obj, p) != v) if neg else (field_value(obj, p) == v) for p, neg, v in checks)

    return match


def combine(*predicates: Predicate) -> Predicate:
    """All predicates must hold."""
    return lambda obj: all(p(obj) for p in predicates)
