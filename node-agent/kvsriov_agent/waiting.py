"""Poll a condition of the host until a deadline: how the agent checks that a kernel change took."""

from __future__ import annotations

import time
from collections.abc import Callable

#: Between two looks at sysfs: cheap reads, and a kernel change is done within milliseconds to seconds.
POLL_INTERVAL_S = 0.02


def poll(predicate: Callable[[], bool], timeout: float, interval: float = POLL_INTERVAL_S) -> bool:
    """True as soon as `predicate()` holds, False once `timeout` seconds have passed without it."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
