"""List-then-watch loops that survive API-server restarts and outages.

The informer contract of client-go in a few lines: list to get a snapshot and
its resourceVersion, watch from there, follow BOOKMARKs, re-list when the
server answers 410 Gone/Expired (the version fell out of its history), and on
any other failure reconnect with capped exponential backoff. The agent must
keep working through an outage and catch up afterwards without a restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from kvsriov_agent.kube.client import ApiError, KubeClient, Obj, ResourcePath
from kvsriov_agent.settings import AgentSettings

log = logging.getLogger(__name__)

BACKOFF_START = 0.2
BACKOFF_MAX = 10.0

#: Called with ("SYNC", None) after each (re-)list, and with ADDED/MODIFIED/DELETED and the object.
Handler = Callable[[str, Obj | None], None]


@dataclass
class Watcher:
    """Keeps `cache` (name -> object) current for one kind and selector, calling `on_event` on changes."""

    client: KubeClient
    resource: ResourcePath
    on_event: Handler
    label_selector: str | None = None
    field_selector: str | None = None
    #: timeoutSeconds of each watch request: the server ends the stream then and we resume from
    #: the last version.
    timeout_seconds: int = AgentSettings.watch_timeout_s
    #: Re-lists forced by 410 Expired so far (the resume point fell out of the server's history).
    expired: int = 0
    cache: dict[str, Obj] = field(default_factory=dict)
    synced: threading.Event = field(default_factory=threading.Event)
    stopped: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> dict[str, Obj]:
        with self._lock:
            return dict(self.cache)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name=f"watch-{self.resource.plural}", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stopped.set()

    def _query(self) -> dict[str, str]:
        query = {"labelSelector": self.label_selector, "fieldSelector": self.field_selector}
        return {k: v for k, v in query.items() if v}

    def _relist(self) -> str:
        doc = self.client.list(
            self.resource, label_selector=self.label_selector, field_selector=self.field_selector
        )
        items = {item["metadata"]["name"]: item for item in doc.get("items", [])}
        with self._lock:
            self.cache = items
        self.synced.set()
        self.on_event("SYNC", None)
        return str(doc.get("metadata", {}).get("resourceVersion", ""))

    def _apply(self, event: Obj) -> str | None:
        """Fold one watch event into the cache; returns its resourceVersion (None: re-list)."""
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            code = int(obj.get("code", 0))
            if code == 410:
                return None
            raise ApiError(code, str(obj.get("reason", "")), str(obj.get("message", "")))
        version = str(obj.get("metadata", {}).get("resourceVersion", ""))
        if kind == "BOOKMARK":
            return version
        name = obj["metadata"]["name"]
        with self._lock:
            if kind == "DELETED":
                self.cache.pop(name, None)
            else:
                self.cache[name] = obj
        self.on_event(str(kind), obj)
        return version

    def _expired(self, version: str | None) -> None:
        self.expired += 1
        log.info("watch %s: resourceVersion %s expired (410), re-listing", self.resource.plural, version)

    def run(self) -> None:
        backoff = BACKOFF_START
        version: str | None = None
        while not self.stopped.is_set():
            try:
                if version is None:
                    version = self._relist()
                for event in self.client.watch_stream(
                    self.resource, version, self._query(), self.timeout_seconds
                ):
                    resumed_from = version
                    version = self._apply(event)
                    backoff = BACKOFF_START
                    if version is None:
                        self._expired(resumed_from)
                    if version is None or self.stopped.is_set():
                        break
            except ApiError as err:
                if err.status == 410:
                    self._expired(version)
                    version = None  # too old for the server's history: start from a fresh list
                    continue
                log.warning("watch %s: %s; retrying in %.1fs", self.resource.plural, err, backoff)
                self.stopped.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
            except (OSError, ValueError) as err:  # connection refused/reset, truncated JSON
                log.warning("watch %s: %s; retrying in %.1fs", self.resource.plural, err, backoff)
                self.stopped.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
