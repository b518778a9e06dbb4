"""One worker per L2/L3 network, woken by the handlers of the objects it depends on.

Why not compute in every handler: a NIC, Node, NAD or Namespace event and the
network's own change handler may run concurrently (kopf runs objects in
parallel), and the later write of a decision computed earlier would overwrite
a fresher one. A single worker per network (a kopf daemon) is the only writer
of its status and NADs, so decisions land in the order they were made, and
bursts coalesce: 10,000 NIC events at start-up wake an L2 network's worker a
few times, not 10,000 times.

Handlers call `poke()` from the event loop (they are `async`); it only sets a flag.

A reconcile that fails (the API server away, a webhook refusing a NAD) does not end the
worker: kopf would start it again only after its daemon backoff, a fixed 60 s however short
the outage. The worker waits a short delay that doubles up to a cap (`Backoff`) and retries,
at once when poked meanwhile: an event means the watch, so the API server, is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import kopf
from kubernetes.client.exceptions import ApiException

from kvsriov.api.conditions import EventReason

#: Retry delays after a failed reconcile: the first, and the cap the doubling stops at.
RETRY_FIRST_S = 0.5
RETRY_CAP_S = 10.0
log = logging.getLogger(__name__)


class Wakeups:
    """The wake-up flags of the running workers, keyed by (kind, name)."""

    def __init__(self) -> None:
        self._events: dict[tuple[str, str], asyncio.Event] = {}

    def register(self, kind: str, name: str) -> asyncio.Event:
        """A worker starts: it has work at once (the first reconcile after a start or a creation)."""
        event = asyncio.Event()
        event.set()
        self._events[(kind, name)] = event
        return event

    def unregister(self, kind: str, name: str, event: asyncio.Event) -> None:
        if self._events.get((kind, name)) is event:
            del self._events[(kind, name)]

    def poke(self, kind: str, name: str) -> None:
        event = self._events.get((kind, name))
        if event is not None:
            event.set()

    def poke_all(self, kind: str, names: Iterable[str]) -> None:
        for name in names:
            self.poke(kind, name)


async def until(flag: asyncio.Event, stopped: Any) -> bool:
    """Wait until `flag` is set (True; it stays set) or until kopf stops the worker (False)."""
    if not flag.is_set():

        async def stop() -> None:
            await stopped.wait()

        waiters = [asyncio.ensure_future(flag.wait()), asyncio.ensure_future(stop())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
    return not stopped


async def woken(wake: asyncio.Event, stopped: Any) -> bool:
    """Wait until poked (True, flag cleared) or until kopf stops the worker (False)."""
    if not await until(wake, stopped):
        return False
    wake.clear()
    return True


@dataclass
class Backoff:
    """Delays between retries of a failing reconcile: RETRY_FIRST_S, doubled each failure,
    at most RETRY_CAP_S; back to the first after a success."""

    first: float = RETRY_FIRST_S
    cap: float = RETRY_CAP_S
    _next: float = field(default=0.0, init=False)

    def failed(self) -> float:
        delay = self._next or self.first
        self._next = min(delay * 2, self.cap)
        return delay

    def succeeded(self) -> None:
        self._next = 0.0


async def retry_after(delay: float, wake: asyncio.Event, stopped: Any) -> bool:
    """After a failed reconcile: wait `delay` s, or less if poked, then leave `wake` set so the
    worker's next `woken()` retries at once. False when kopf stops the worker meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(until(wake, stopped), timeout=delay)
    wake.set()
    return not stopped


def reconcile_failed(body: kopf.Body, kind: str, exc: Exception, backoff: Backoff) -> float:
    """Say that a reconcile failed and when it is retried, in the log and as a Warning Event (it
    reaches users whenever the API server does: a webhook or a quota refused a write); returns
    the delay."""
    delay = backoff.failed()
    why = f"{exc.status} {exc.reason}" if isinstance(exc, ApiException) else f"{type(exc).__name__}: {exc}"
    message = f"could not reconcile {kind} {body.metadata.get('name')}: {why}; retrying in {delay:g} s"
    log.warning("%s", message)
    kopf.event(body, type="Warning", reason=EventReason.RECONCILE_FAILED, message=message)
    return delay
