"""``Table`` output (meta.k8s.io/v1) for ``kubectl get``.

kubectl asks for ``as=Table`` and prints whatever columns the server returns,
so this is where a CRD's additionalPrinterColumns become visible. Column
paths are the simple JSONPath subset CRDs use: ``.a.b``, ``[n]``, ``['key']``
and filters like ``[?(@.type=="Ready")]``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from .resources import ResourceType

Obj = dict[str, Any]
_MISSING = object()
_TOKEN = re.compile(
    r"""\.([A-Za-z0-9_$-]+)|\[(\d+|\*)\]|\[['"]([^'"]+)['"]\]|\[\?\(@\.([A-Za-z0-9_.-]+)\s*(==|!=)\s*['"]?([^'")]*)['"]?\)\]"""
)


def jsonpath(obj: Any, path: str) -> list[Any]:
    """All values the path selects (empty when nothing matches)."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    path = path.removeprefix("$")
    current: list[Any] = [obj]
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if not m:
            return []
        pos = m.end()
        name, index, quoted, fkey, fop, fval = m.groups()
        nxt: list[Any] = []
        for node in current:
            if name is not None or quoted is not None:
                key = name if name is not None else quoted
                if isinstance(node, dict) and key in node:
                    nxt.append(node[key])
            elif index is not None:
                if isinstance(node, list):
                    if index == "*":
                        nxt.extend(node)
                    elif int(index) < len(node):
                        nxt.append(node[int(index)])
            elif isinstance(node, list):
                for item in node:
                    got = jsonpath(item, "." + fkey)
                    val = _render(got[0]) if got else _MISSING
                    if (val == fval) == (fop == "=="):
                        nxt.append(item)
        current = nxt
    return current


def _render(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def human_age(timestamp: str, now: dt.datetime | None = None) -> str:
    """Age the way the real server renders ``date`` columns (apimachinery's HumanDuration)."""
    try:
        then = dt.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return "<invalid>"
    seconds = int(((now or dt.datetime.now(dt.UTC)) - then).total_seconds())
    if seconds < -1:
        return "<invalid>"
    seconds = max(seconds, 0)
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 192:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 730:
        return f"{days}d"
    if days < 2920:
        return f"{days // 365}y{days % 365}d" if days % 365 else f"{days // 365}y"
    return f"{days // 365}y"


def _cell(obj: Obj, column: Obj) -> Any:
    values = jsonpath(obj, column.get("jsonPath", ""))
    if not values:
        return None
    value = values[0] if len(values) == 1 else ",".join(str(_render(v)) for v in values)
    kind = column.get("type", "string")
    if kind == "date" and isinstance(value, str):
        return human_age(value)
    if kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if kind == "boolean" and isinstance(value, bool):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value if isinstance(value, str) else _render(value)


def _columns(rt: ResourceType) -> list[Obj]:
    if rt.printer_columns:
        return rt.printer_columns
    return [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]


def _row_object(obj: Obj, include: str) -> Obj | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources "
    "may allow a client to request the generation of an appropriate name automatically. Name is primarily "
    "intended for creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)


def to_table(rt: ResourceType, objects: list[Obj], list_meta: Obj | None, include: str = "Metadata") -> Obj:
    """A Table of ``objects``: Name first, then the printer columns (Name + Age for built-ins)."""
    columns = _columns(rt)
    definitions = [
        {
            "name": "Name",
            "type": "string",
            "format": "name",
            "priority": 0,
            "description": NAME_DESCRIPTION,
        }
    ]
    for col in columns:
        definitions.append(
            {
                "name": col.get("name", ""),
                "type": col.get("type", "string"),
                "format": col.get("format", ""),
                "description": col.get("description")
                or f"Custom resource definition column (in JSONPath format): {col.get('jsonPath', '')}",
                "priority": int(col.get("priority", 0)),
            }
        )
    rows = []
    for obj in objects:
        cells: list[Any] = [obj.get("metadata", {}).get("name", "")]
        cells.extend(_cell(obj, col) for col in columns)
        row: Obj = {"cells": cells}
        row_obj = _row_object(obj, include)
        if row_obj is not None:
            row["object"] = row_obj
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta or {},
        "columnDefinitions": definitions,
        "rows": rows,
    }


def wants_table(accept: str) -> bool:
    """True when the Accept header prefers a Table (kubectl get)."""
    first = accept.split(",")[0] if accept else ""
    return "as=Table" in first
