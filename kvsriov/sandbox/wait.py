"""Polling with a deadline: the one way tests wait for asynchronous effects.

Sleeping a fixed time is either too short (flaky) or too long (slow);
polling a condition until a deadline is neither, and the error names what
was awaited so a failure reads as a sentence.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """The awaited condition did not become true in time."""


def wait_for(
    predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.05, what: str = "condition"
) -> T:
    """Call ``predicate`` until it returns something truthy, and return that.

    Exceptions raised by the predicate count as "not yet"; the last one is
    chained to the :class:`WaitTimeout` raised after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    last_value: object = None
    while True:
        try:
            last_value = predicate()
            if last_value:
                return last_value
            last_error = None
        except Exception as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f"last error: {last_error!r}" if last_error else f"last value: {last_value!r}"
            raise WaitTimeout(f"timed out after {timeout:g}s waiting for {what} ({detail})") from last_error
        time.sleep(interval)
