"""A Kubernetes API client on http.client + json: get, list, create, merge-patch, watch.

Why not the official `kubernetes` client: the agent runs on every node and in
the TCG test bed. DESIGN §2 measured peak RSS of the bare imports: the
kubernetes client after `CoreV1Api()` 64 MiB, kopf alone 59 MiB, while
pydantic + pyroute2 + grpcio are 46 MiB; TESTBED.md measured `import
kubernetes` 4.3 s plus 8.8 s for the first `CoreV1Api()` under TCG (aiohttp
2.4 s). The agent needs six verbs on two kinds and Events: this module is
those verbs and nothing else, so the agent stays under its RSS target and
starts in a second.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kvsriov_agent.kube.config import KubeConfig

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
#: Plain requests must not hang forever on a half-dead connection.
REQUEST_TIMEOUT = 30.0

Obj = dict[str, Any]


class ApiError(RuntimeError):
    """A non-2xx answer: `status` is the HTTP code, `reason` the Status reason (NotFound, Expired...)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class ResourcePath:
    """Where a kind is served: `/api/v1` for the core group, `/apis/GROUP/VERSION` otherwise."""

    group: str
    version: str
    plural: str

    def url(self, name: str | None = None, namespace: str | None = None, sub: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        parts = [base]
        if namespace:
            parts.append(f"namespaces/{urllib.parse.quote(namespace)}")
        parts.append(self.plural)
        if name:
            parts.append(urllib.parse.quote(name))
        if sub:
            parts.append(sub)
        return "/".join(parts)


class KubeClient:
    """One HTTP(S) connection per thread (http.client connections are not thread-safe)."""

    def __init__(self, config: KubeConfig, user_agent: str = "kvsriov-agent") -> None:
        self.config = config
        self.user_agent = user_agent
        parsed = urllib.parse.urlsplit(config.server)
        self._https = parsed.scheme == "https"
        self._host = parsed.hostname or "localhost"
        self._port = parsed.port or (443 if self._https else 80)
        self._prefix = parsed.path.rstrip("/")
        self._ssl = config.ssl_context()
        self._local = threading.local()

    def _connect(self, timeout: float | None) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=timeout, context=self._ssl)
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": JSON, "User-Agent": self.user_agent}
        token = self.config.bearer()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def _target(self, path: str, query: dict[str, str] | None) -> str:
        qs = {k: v for k, v in (query or {}).items() if v is not None}
        return self._prefix + path + (f"?{urllib.parse.urlencode(qs)}" if qs else "")

    def request(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: Obj | None = None,
        content_type: str = JSON,
    ) -> Obj:
        """One call; retried once on a stale keep-alive connection (the server may have closed it)."""
        payload = json.dumps(body).encode() if body is not None else None
        for attempt in (1, 2):
            conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._local.conn = self._connect(REQUEST_TIMEOUT)
            try:
                conn.request(
                    method,
                    self._target(path, query),
                    body=payload,
                    headers=self._headers(content_type if payload else None),
                )
                resp = conn.getresponse()
                data = resp.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
                continue
            return _decode(resp.status, data)
        raise AssertionError("unreachable")

    def get(self, res: ResourcePath, name: str, namespace: str | None = None) -> Obj:
        return self.request("GET", res.url(name, namespace))

    def get_or_none(self, res: ResourcePath, name: str, namespace: str | None = None) -> Obj | None:
        try:
            return self.get(res, name, namespace)
        except ApiError as err:
            if err.status == 404:
                return None
            raise

    def list(
        self,
        res: ResourcePath,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Obj:
        query = {"labelSelector": label_selector, "fieldSelector": field_selector}
        return self.request("GET", res.url(namespace=namespace), {k: v for k, v in query.items() if v})

    def create(self, res: ResourcePath, obj: Obj, namespace: str | None = None) -> Obj:
        return self.request("POST", res.url(namespace=namespace), body=obj)

    def merge_patch(self, res: ResourcePath, name: str, patch: Obj, namespace: str | None = None) -> Obj:
        return self.request("PATCH", res.url(name, namespace), body=patch, content_type=MERGE_PATCH)

    def patch_status(self, res: ResourcePath, name: str, patch: Obj, namespace: str | None = None) -> Obj:
        """The status subresource: the only way to write status once a CRD enables it."""
        return self.request("PATCH", res.url(name, namespace, "status"), body=patch, content_type=MERGE_PATCH)

    def watch_stream(
        self, res: ResourcePath, resource_version: str, query: dict[str, str], timeout_seconds: int
    ) -> Iterator[Obj]:
        """Watch events (one JSON object a line) until the server ends the stream.

        The socket timeout is a little longer than the server's own timeoutSeconds,
        so a server that vanishes without closing the connection is noticed.
        """
        params = dict(query, watch="1", resourceVersion=resource_version, allowWatchBookmarks="true")
        params["timeoutSeconds"] = str(timeout_seconds)
        conn = self._connect(timeout_seconds + 30)
        try:
            conn.request("GET", self._target(res.url(), params), headers=self._headers(None))
            resp = conn.getresponse()
            if resp.status >= 300:
                _decode(resp.status, resp.read())
            while True:
                line = resp.readline()
                if not line:
                    return
                if line.strip():
                    yield json.loads(line)
        finally:
            conn.close()


def _decode(status: int, data: bytes) -> Obj:
    try:
        doc: Obj = json.loads(data) if data else {}
    except ValueError:
        doc = {"message": data[:200].decode(errors="replace")}
    if status >= 300:
        raise ApiError(status, str(doc.get("reason", "")), str(doc.get("message", "")))
    return doc
