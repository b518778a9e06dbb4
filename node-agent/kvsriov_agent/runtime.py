"""The long-running agent: watches and kernel events feed one queue; one thread reconciles.

- Watches: the SriovHost named after the node (fieldSelector metadata.name) and
  the SriovPhysicalNics labelled kvsriov.io/node=NODE (a server-side label
  selector), so the API server sends this node nothing about other nodes and
  the cost per node stays flat as the cluster grows (DESIGN §2).
- Kernel events: rtnetlink link messages (a NIC appears, loses carrier, gets
  VFs) when the agent runs on the host's own kernel (host root `/`).
- A slow periodic resync is the safety net for what no event reports
  (a file-tree host in tests, a missed netlink message).
Events are coalesced: a burst of them is one reconcile pass.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import logging
import queue
import socket
import threading
import time
from dataclasses import dataclass, field

from kvsriov.api.constants import LABEL_NODE
from kvsriov.api.naming import label_value
from kvsriov_agent.kube.client import ApiError, Obj
from kvsriov_agent.kube.watch import Watcher
from kvsriov_agent.objects import HOSTS, NICS
from kvsriov_agent.reconcile import PassIncomplete, Reconciler
from kvsriov_agent.settings import AgentSettings

log = logging.getLogger(__name__)

#: include/uapi/linux/netlink.h and rtnetlink.h.
NETLINK_ROUTE = 0
RTMGRP_LINK = 1
NETLINK_BUFFER = 65536


@dataclass
class Agent:
    reconciler: Reconciler
    settings: AgentSettings = field(default_factory=AgentSettings)
    watch_netlink: bool = False
    wakeups: queue.Queue[str] = field(default_factory=queue.Queue)
    stopped: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        client, node = self.reconciler.client, self.reconciler.node
        timeout = self.settings.watch_timeout_s
        self.hosts = Watcher(
            client, HOSTS, self._on_event, field_selector=f"metadata.name={node}", timeout_seconds=timeout
        )
        self.nics = Watcher(
            client,
            NICS,
            self._on_event,
            label_selector=f"{LABEL_NODE}={label_value(node)}",
            timeout_seconds=timeout,
        )

    def _on_event(self, kind: str, obj: Obj | None) -> None:
        version = str((obj or {}).get("metadata", {}).get("resourceVersion", ""))
        if kind in ("ADDED", "MODIFIED") and version in self.reconciler.own_versions:
            self.reconciler.own_versions.discard(version)
            return  # the echo of our own write: the pass that made it saw everything it says
        self.wakeups.put(kind)

    def start_sources(self) -> None:
        self.hosts.start()
        self.nics.start()
        if self.watch_netlink:
            threading.Thread(target=self._netlink_events, name="netlink", daemon=True).start()
            threading.Thread(target=_warm_imports, name="warm-imports", daemon=True).start()

    def _netlink_events(self) -> None:
        """RTM_NEWLINK/DELLINK on the link multicast group: cheap, and exactly what changes a NIC.

        A raw rtnetlink socket, read and not parsed: a message only says "look again", and parsing
        the bursts that slicing causes (pure Python) would take the GIL from the pass.
        """
        while not self.stopped.is_set():
            try:
                with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE) as sock:
                    sock.bind((0, RTMGRP_LINK))
                    sock.settimeout(1.0)
                    while not self.stopped.is_set():
                        try:
                            if sock.recv(NETLINK_BUFFER):
                                self.wakeups.put("netlink")
                        except TimeoutError:
                            continue
                        except OSError as err:
                            if err.errno != errno.ENOBUFS:
                                raise
                            self.wakeups.put("netlink")  # messages were dropped: something changed
            except OSError as err:
                log.warning("netlink monitor: %s; restarting", err)
                self.stopped.wait(self.settings.retry_start_s)

    def _wait(self, timeout: float) -> bool:
        """Block until an event or `timeout`; then drain the burst. True when an event came.

        An API event (a spec change: what a user waits for) starts the pass at once. Kernel link
        messages come in bursts (creating VFs sends dozens, binding them more): they start a pass
        once the kernel has been quiet for settings.netlink_quiet_s (at most netlink_max_delay_s
        after the first), or at once when an API event arrives meanwhile.
        """
        try:
            kind = self.wakeups.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return False
        if kind == "netlink":
            deadline = time.monotonic() + self.settings.netlink_max_delay_s
            while kind == "netlink" and (left := deadline - time.monotonic()) > 0:
                try:
                    kind = self.wakeups.get(timeout=min(self.settings.netlink_quiet_s, left))
                except queue.Empty:
                    break
        else:
            time.sleep(self.settings.coalesce_s)  # let the rest of a burst arrive, then take it all at once
        while True:
            try:
                self.wakeups.get_nowait()
            except queue.Empty:
                return True

    def run(self) -> None:
        self.start_sources()
        while not (self.hosts.synced.wait(0.5) and self.nics.synced.wait(0.5)):
            if self.stopped.is_set():
                return
        retry = self.settings.retry_start_s
        next_pass = time.monotonic()
        while not self.stopped.is_set():
            self._wait(next_pass - time.monotonic())
            if self.stopped.is_set():
                return
            host_obj = self.hosts.snapshot().get(self.reconciler.node)
            before, began = self.reconciler.writes, time.monotonic()
            metrics = self.reconciler.metrics
            try:
                self.reconciler.run(host_obj, self.nics.snapshot())
                took = time.monotonic() - began
                log.info("pass complete: %d writes in %.2f s", self.reconciler.writes - before, took)
                if metrics is not None:
                    metrics.pass_done(failed=False)
            except (ApiError, OSError, PassIncomplete) as err:
                if metrics is not None:
                    metrics.pass_done(failed=True)
                log.warning("reconcile failed: %s; retrying in %.1fs", err, retry)
                next_pass = time.monotonic() + retry
                retry = min(retry * 2, self.settings.retry_max_s)
                continue
            if self.reconciler.waiting_for_kubelet:  # a change the kubelet's answer decides: ask again soon
                log.info("a NIC change waits for the kubelet's PodResources API; again in %.1fs", retry)
                next_pass = time.monotonic() + min(retry, self.settings.resync_s)
                retry = min(retry * 2, self.settings.kubelet_retry_max_s)
                continue
            retry = self.settings.retry_start_s
            next_pass = time.monotonic() + self.settings.resync_s


def _warm_imports() -> None:
    """Import now, while idle, what the first slicing pass needs (seconds each under TCG): grpc
    and the PodResources stubs to ask the kubelet which VFs are in use."""
    for module in ("grpc", "kvsriov.kubeletapi.podresources.v1.api_pb2_grpc"):
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
