"""What a client sees, recorded step by step, normalised so two servers can be compared.

A :class:`Recorder` speaks raw HTTP (urllib3, as the kubernetes client does) to
the server named by a kubeconfig and records, for every step, the status code,
the Status reason/message/causes or the returned object(s), and any Warning
headers. Normalising strips what legitimately differs between two servers:
uids, timestamps, resourceVersion values, managedFields.
"""

from __future__ import annotations

import json
import re
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import urllib3
import yaml

#: metadata fields whose values differ by nature; kept as "<set>" when present.
VOLATILE_METADATA = ("uid", "creationTimestamp", "resourceVersion", "deletionTimestamp")
UID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
PORT = re.compile(r"127\.0\.0\.1:\d+")
TOO_OLD = re.compile(r"too old resource version: (\d+) \(\d+\)")


def normalise_text(text: str) -> str:
    text = TOO_OLD.sub(r"too old resource version: \1 (<oldest>)", text)
    return PORT.sub("127.0.0.1:<port>", TIME.sub("<time>", UID.sub("<uid>", text)))


def normalise_object(obj: Any) -> Any:
    """An object (or list, Status, Table) with the server-specific values replaced or dropped."""
    if not isinstance(obj, dict):
        return obj
    obj = json.loads(json.dumps(obj))
    kind = obj.get("kind")
    if kind == "Status":
        return normalise_status(obj)
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
        meta.pop("selfLink", None)
        meta.pop("remainingItemCount", None)
        if meta.get("generateName") and str(meta.get("name", "")).startswith(meta["generateName"]):
            meta["name"] = meta["generateName"] + "<random>"
        if meta.get("continue") == "":  # the real server sends an empty one on custom lists
            del meta["continue"]
        for key in (*VOLATILE_METADATA, "continue"):
            if key in meta:
                meta[key] = "<set>"
        annotations = meta.get("annotations") or {}
        annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
        if "annotations" in meta and not annotations:
            meta.pop("annotations")
    if isinstance(obj.get("items"), list):
        obj["items"] = [normalise_object(item) for item in obj["items"]]
    if kind == "Table":
        obj = normalise_table(obj)
    if isinstance(obj.get("object"), dict):  # a watch event
        obj["object"] = normalise_object(obj["object"])
    return obj


def normalise_status(status: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: status[k] for k in ("kind", "status", "reason", "code") if k in status}
    if "message" in status:
        out["message"] = normalise_text(status["message"])
    details = status.get("details") or {}
    if details:
        out["details"] = {k: details[k] for k in ("name", "group", "kind", "uid") if k in details}
        if "uid" in details:
            out["details"]["uid"] = "<set>"
        causes = [
            {
                "field": c.get("field"),
                "reason": c.get("reason"),
                "message": normalise_text(c.get("message", "")),
            }
            for c in details.get("causes") or []
        ]
        # the real server orders the errors of one object by Go map iteration: compare them as a set
        out["details"]["causes"] = sorted(causes, key=lambda c: (str(c["field"]), c["message"]))
        if len(causes) > 1 and " is invalid: [" in out.get("message", ""):
            out["message"] = out["message"].split(" is invalid: [")[0] + " is invalid: [<the causes>]"
    return out


def normalise_table(table: dict[str, Any]) -> dict[str, Any]:
    """Column definitions and cells, except the Age column's cells (a duration, differs by nature)."""
    columns = table.get("columnDefinitions", [])
    age = [i for i, column in enumerate(columns) if column.get("name") == "Age"]
    rows = []
    for row in table.get("rows", []):
        cells = ["<age>" if i in age else cell for i, cell in enumerate(row.get("cells", []))]
        rows.append({"cells": cells, "object": normalise_object(row.get("object"))})
    return {
        "kind": "Table",
        "apiVersion": table.get("apiVersion"),
        "columnDefinitions": columns,
        "rows": rows,
    }


@dataclass
class Recorder:
    """Raw HTTP to one server, recording each step under a name."""

    server: str
    token: str | None
    ca_file: str | None
    steps: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_kubeconfig(cls, path: Path) -> Recorder:
        config = yaml.safe_load(path.read_text())
        context = next(c for c in config["contexts"] if c["name"] == config["current-context"])["context"]
        cluster = next(c for c in config["clusters"] if c["name"] == context["cluster"])["cluster"]
        user = next(u for u in config["users"] if u["name"] == context["user"])["user"]
        return cls(cluster["server"], user.get("token"), cluster.get("certificate-authority"))

    def __post_init__(self) -> None:
        if self.ca_file:
            context = ssl.create_default_context(cafile=self.ca_file)
            self.http = urllib3.PoolManager(ssl_context=context)
        else:
            self.http = urllib3.PoolManager()

    def headers(
        self, content_type: str = "application/json", accept: str = "application/json"
    ) -> dict[str, str]:
        headers = {"Content-Type": content_type, "Accept": accept}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, str] | None = None,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> tuple[int, Any, list[str]]:
        """One request, not recorded: (status, decoded body, warnings).

        Sent through the server's connection pool with the path as given: PoolManager.request
        would drop `.` and `..` segments (urllib3 normalises URLs), and what the servers answer
        to those is part of what we compare.
        """
        target = path + (f"?{urlencode(query)}" if query else "")
        data = None
        if body is not None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        response = self.http.connection_from_url(self.server).urlopen(
            method, target, body=data, headers=self.headers(content_type, accept), timeout=30, retries=False
        )
        try:
            decoded = json.loads(response.data or b"null")
        except ValueError:
            decoded = response.data.decode(errors="replace")
        warnings = [w.strip() for w in response.headers.getlist("Warning")]
        return response.status, decoded, warnings

    def step(self, name: str, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        """One request, recorded; returns (status, raw decoded body) for the scenario to go on with."""
        status, decoded, warnings = self.call(method, path, body, **kwargs)
        entry: dict[str, Any] = {"step": name, "code": status, "body": normalise_object(decoded)}
        if warnings:
            entry["warnings"] = [normalise_text(re.sub(r'^\d{3} \S+ "(.*)"$', r"\1", w)) for w in warnings]
        self.steps.append(entry)
        return status, decoded

    def note(self, name: str, value: Any) -> None:
        """Record something derived (e.g. the names a selector picked)."""
        self.steps.append({"step": name, "value": value})

    def watch(self, name: str, path: str, query: dict[str, str], act: Any, expect: int) -> None:
        """Open a watch, run ``act()`` while it is open, record up to ``expect`` events.

        The watch carries timeoutSeconds, so a server sending fewer events ends it (no sleeping).
        """
        query = {"watch": "true", "timeoutSeconds": "5", **query}
        url = self.server + path + "?" + urlencode(query)
        response = self.http.request(
            "GET",
            url,
            headers=self.headers(),
            preload_content=False,
            timeout=urllib3.Timeout(connect=5, read=10),
            retries=False,
        )
        events: list[Any] = []
        try:
            if response.status != 200:
                events.append(
                    {"code": response.status, "body": normalise_object(json.loads(response.read()))}
                )
            else:
                act()
                buffer = b""
                for chunk in response.stream(1024, decode_content=True):
                    buffer += chunk
                    while b"\n" in buffer:
                        line, buffer = buffer.split(b"\n", 1)
                        if line.strip():
                            events.append(normalise_object(json.loads(line)))
                    if len(events) >= expect:
                        break
        finally:
            response.release_conn()
            response.close()
        self.steps.append({"step": name, "events": events})


def differences(emulated: list[dict[str, Any]], real: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Leaf-level differences between two recordings: [{step, path, emulated, real}]."""
    out: list[dict[str, Any]] = []

    def walk(step: str, path: str, a: Any, b: Any) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b), key=str):
                walk(
                    step,
                    f"{path}.{key}" if path else str(key),
                    a.get(key, "<absent>"),
                    b.get(key, "<absent>"),
                )
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                walk(step, f"{path}[{i}]", x, y)
        elif a != b:
            out.append({"step": step, "path": path, "emulated": a, "real": b})

    names = [s["step"] for s in emulated]
    assert names == [s["step"] for s in real], (
        f"the scenario took different steps: {names} vs {[s['step'] for s in real]}"
    )
    for a, b in zip(emulated, real, strict=True):
        walk(
            a["step"],
            "",
            {k: v for k, v in a.items() if k != "step"},
            {k: v for k, v in b.items() if k != "step"},
        )
    return out
