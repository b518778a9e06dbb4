"""One worker per L2/L3 network, woken by the handlers of the objects it depends on.

Why not compute in every handler: a NIC, Node, NAD or Namespace event and the
network's own change handler may run concurrently (kopf runs objects in
parallel), and the later write of a decision computed earlier would overwrite
a fresher one. A single worker per network (a kopf daemon) is the only writer
of its status and NADs, so decisions land in the order they were made, and
bursts coalesce: 10,000 NIC events at start-up wake an L2 network's worker a
few times, not 10,000 times.

Handlers call `poke()` from the event loop (they are `async`); it only sets a flag.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any


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
