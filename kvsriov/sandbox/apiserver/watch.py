"""Streaming watch responses (newline-delimited JSON events).

Semantics follow the real watch cache: resourceVersion unset/"0" sends the
current objects as ADDED first; a specific resourceVersion replays the
retained history after it (or one ERROR 410 Expired event when that history
is gone); a selector-filtered watch turns "stopped matching" into DELETED and
"started matching" into ADDED. The stream ends on timeoutSeconds, on client
disconnect, or when the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
from typing import Any

from aiohttp import web

from .errors import ApiError
from .operations import Operations
from .resources import ResourceType
from .selectors import Predicate
from .store import Event
from .table import to_table

Obj = dict[str, Any]
BOOKMARK_INTERVAL = 30.0


def translate(event: Event, matches: Predicate) -> str | None:
    """The event type this watcher should see, or None to skip it."""
    now_matches = matches(event.obj)
    if event.type == "MODIFIED":
        was = event.old is not None and matches(event.old)
        if was and now_matches:
            return "MODIFIED"
        if was:
            return "DELETED"
        return "ADDED" if now_matches else None
    return event.type if now_matches else None


def shown(event: Event, kind: str) -> Obj:
    """The object an event carries: one that stopped matching leaves with its previous state
    (at the event's resourceVersion), as the real watch cache sends it."""
    if event.type == "MODIFIED" and kind == "DELETED" and event.old is not None:
        old = copy.deepcopy(event.old)
        old["metadata"]["resourceVersion"] = event.obj["metadata"]["resourceVersion"]
        return old
    return event.obj


class WatchStream:
    """One watch request from subscription to the end of the response."""

    def __init__(
        self, ops: Operations, rt: ResourceType, namespace: str | None, matches: Predicate, as_table: bool
    ) -> None:
        self.ops = ops
        self.rt = rt
        self.namespace = namespace
        self.matches = matches
        self.as_table = as_table

    def _encode(self, kind: str, obj: Obj) -> bytes:
        if kind in ("ADDED", "MODIFIED", "DELETED"):
            obj = self.ops.present(self.rt, dict(obj))
            if self.as_table:
                obj = to_table(
                    self.rt, [obj], {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
                )
        return (json.dumps({"type": kind, "object": obj}, separators=(",", ":")) + "\n").encode()

    async def run(self, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        """Serve the watch; returns when the stream is over."""
        rv_param = params.get("resourceVersion", "")
        since: int | None = None
        if rv_param not in ("", "0"):
            try:
                since = int(rv_param)
            except ValueError as exc:
                message = (
                    f'resourceVersion: Invalid value: "{rv_param}": '
                    f'strconv.ParseUint: parsing "{rv_param}": invalid syntax'
                )
                raise ApiError(500, "", message) from exc  # the real server answers 500, no reason
        timeout = float(params["timeoutSeconds"]) if params.get("timeoutSeconds") else None
        bookmarks = params.get("allowWatchBookmarks") in ("true", "1")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        try:
            replay, watcher = self.ops.store.watch(self.rt.key, self.namespace, since)
        except ApiError as exc:  # 410 Expired goes out as an ERROR event, as the real server sends it
            await response.prepare(request)
            await response.write(self._encode("ERROR", exc.status()))
            await response.write_eof()
            return response
        initial = [] if since is not None else self.ops.store.list(self.rt.key, self.namespace, self.matches)
        try:
            await response.prepare(request)
            for obj in initial:
                await response.write(self._encode("ADDED", obj))
            for event in replay:
                kind = translate(event, self.matches)
                if kind:
                    await response.write(self._encode(kind, shown(event, kind)))
            await self._live(response, watcher.queue, timeout, bookmarks)
            await response.write_eof()
        except ConnectionResetError:
            pass
        finally:
            self.ops.store.unwatch(watcher)
        return response

    async def _live(
        self,
        response: web.StreamResponse,
        queue: asyncio.Queue[Event | None],
        timeout: float | None,
        bookmarks: bool,
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout else None
        while True:
            wait = BOOKMARK_INTERVAL
            if deadline is not None:
                wait = min(wait, deadline - loop.time())
                if wait <= 0:
                    return
            event: Event | None
            try:
                event = await asyncio.wait_for(queue.get(), wait)
            except TimeoutError:
                if bookmarks and (deadline is None or loop.time() < deadline):
                    rv = str(self.ops.store.resource_version)
                    mark = {
                        "kind": self.rt.kind,
                        "apiVersion": self.rt.group_version,
                        "metadata": {"resourceVersion": rv},
                    }
                    await response.write(self._encode("BOOKMARK", mark))
                continue
            if event is None:
                return
            kind = translate(event, self.matches)
            if kind:
                await response.write(self._encode(kind, shown(event, kind)))
            with contextlib.suppress(asyncio.QueueEmpty):
                while True:  # drain what is already queued without yielding per event
                    event = queue.get_nowait()
                    if event is None:
                        return
                    kind = translate(event, self.matches)
                    if kind:
                        await response.write(self._encode(kind, shown(event, kind)))
