"""In-memory object storage with a global resourceVersion and watch history.

Like etcd behind the real server, every write gets the next value of one
global counter, and the bounded event history lets a watch resume from a
resourceVersion; a resume from before the retained history is refused with
410 Expired so clients re-list (which is exactly what kopf and client-go do).
All access happens on the server's single event loop, so no locks are needed.
"""

from __future__ import annotations

import asyncio
import builtins
import copy
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import expired

Obj = dict[str, Any]
ResKey = tuple[str, str]  # (group, plural)


@dataclass(frozen=True)
class Event:
    """One committed change; ``old`` is the previous state (for selector transitions)."""

    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    key: ResKey
    obj: Obj
    old: Obj | None


@dataclass(eq=False)
class Watcher:
    """A live subscription to one resource (optionally one namespace)."""

    key: ResKey
    namespace: str | None
    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)


def _ns_name(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata", {})
    return (meta.get("namespace") or "", meta.get("name") or "")


class Store:
    """Objects by resource, plus the event history that feeds watches."""

    def __init__(self, history_size: int = 10000) -> None:
        self._objects: dict[ResKey, dict[tuple[str, str], Obj]] = {}
        self._rv = 0
        self._history: deque[Event] = deque(maxlen=max(1, history_size))
        self._compacted = 0  # highest resourceVersion no longer in the history
        self._watchers: set[Watcher] = set()
        self._closed = False

    @property
    def resource_version(self) -> int:
        """The latest resourceVersion handed out."""
        return self._rv

    def get(self, key: ResKey, namespace: str, name: str) -> Obj | None:
        """A private copy of the object, or None."""
        obj = self._objects.get(key, {}).get((namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def list(
        self, key: ResKey, namespace: str | None = None, where: Callable[[Obj], bool] | None = None
    ) -> list[Obj]:
        """Private copies of the objects that `where` accepts, sorted by namespace then name.

        Filtering before copying keeps a selected list of a few objects out of 10,000
        from paying for 10,000 deep copies.
        """
        objs = self._objects.get(key, {})
        return [
            copy.deepcopy(o)
            for (ns, _), o in sorted(objs.items())
            if (namespace is None or ns == namespace) and (where is None or where(o))
        ]

    def commit(self, key: ResKey, obj: Obj, old: Obj | None) -> Obj:
        """Store a created (``old`` None) or changed object under a new resourceVersion."""
        obj = copy.deepcopy(obj)
        self._rv += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self._rv)
        self._objects.setdefault(key, {})[_ns_name(obj)] = obj
        self._record(Event(self._rv, "MODIFIED" if old is not None else "ADDED", key, obj, old))
        return copy.deepcopy(obj)

    def remove(self, key: ResKey, obj: Obj) -> Obj:
        """Delete the object; the DELETED event carries a new resourceVersion."""
        stored = self._objects.get(key, {}).pop(_ns_name(obj), None)
        final = copy.deepcopy(obj)
        self._rv += 1
        final.setdefault("metadata", {})["resourceVersion"] = str(self._rv)
        self._record(Event(self._rv, "DELETED", key, final, stored))
        return copy.deepcopy(final)

    def _record(self, event: Event) -> None:
        if len(self._history) == self._history.maxlen:
            self._compacted = self._history[0].rv
        self._history.append(event)
        for watcher in self._watchers:
            if watcher.key == event.key and watcher.namespace in (None, _ns_name(event.obj)[0]):
                watcher.queue.put_nowait(event)

    def compact_history(self) -> None:
        """Forget the history so far: a watch from before now gets 410 Expired."""
        self._compacted = self._rv
        self._history.clear()

    def watch(
        self, key: ResKey, namespace: str | None, since: int | None
    ) -> tuple[builtins.list[Event], Watcher]:
        """Subscribe; with ``since`` also return the retained events after it.

        Subscription and history snapshot happen in one synchronous step, so
        no event can fall between the replay and the live stream.
        """
        if since is not None and since < self._compacted:
            raise expired(f"too old resource version: {since} ({self._compacted + 1})")
        replay: list[Event] = []
        if since is not None:
            replay = [
                e
                for e in self._history
                if e.rv > since and e.key == key and namespace in (None, _ns_name(e.obj)[0])
            ]
        watcher = Watcher(key, namespace)
        if self._closed:
            watcher.queue.put_nowait(None)
        self._watchers.add(watcher)
        return replay, watcher

    def unwatch(self, watcher: Watcher) -> None:
        """End a subscription."""
        self._watchers.discard(watcher)

    def close(self) -> None:
        """Tell every watch to finish (the server is stopping)."""
        self._closed = True
        for watcher in self._watchers:
            watcher.queue.put_nowait(None)
