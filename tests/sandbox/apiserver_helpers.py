"""Helpers shared by the emulated API server's tests (manifests, raw HTTP)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
GROUP, VERSION, PLURAL = "example.kvsriov.io", "v1", "widgets"


def widget(name: str, labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    """A Widget manifest."""
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Widget",
        "metadata": meta,
        "spec": spec or {"size": 1},
    }


def raw(
    base_url: str,
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/json",
    accept: str = "application/json",
) -> tuple[int, dict[str, Any], Any]:
    """One plain HTTP request: (status, headers, decoded JSON body)."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(
        base_url + path, data=data, method=method, headers={"Content-Type": content_type, "Accept": accept}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read() or b"null")
