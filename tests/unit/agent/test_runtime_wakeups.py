"""The agent loop's wakeups: echoes of its own writes start no pass; kernel bursts wait for quiet."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

from kvsriov_agent.runtime import Agent
from kvsriov_agent.settings import AgentSettings


def agent(settings: AgentSettings | None = None) -> Agent:
    reconciler: Any = SimpleNamespace(client=None, node="node-1", own_versions=set())
    return Agent(reconciler, settings or AgentSettings())


def obj(version: str) -> dict[str, Any]:
    return {"metadata": {"name": "x", "resourceVersion": version}}


def test_own_write_echo_is_skipped_once() -> None:
    a = agent()
    a.reconciler.own_versions.add("7")
    a._on_event("MODIFIED", obj("7"))
    assert a.wakeups.empty() and not a.reconciler.own_versions
    a._on_event("MODIFIED", obj("8"))  # someone else's write
    a._on_event("SYNC", None)
    assert a.wakeups.qsize() == 2


def test_netlink_burst_waits_for_quiet_but_an_api_event_goes_at_once() -> None:
    a = agent(AgentSettings(netlink_quiet_s=0.3, netlink_max_delay_s=5.0))
    a.wakeups.put("netlink")
    began = time.monotonic()
    assert a._wait(1.0)
    assert 0.3 <= time.monotonic() - began < 2.0
    a.wakeups.put("netlink")
    threading.Timer(0.1, lambda: a.wakeups.put("MODIFIED")).start()
    began = time.monotonic()
    assert a._wait(1.0)
    assert time.monotonic() - began < 0.3 and a.wakeups.empty()
