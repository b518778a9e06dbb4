"""Our own cluster-wide caches (list + watch) of NICs, Nodes, L2 and L3 networks, not kopf's indexes.

Why not `@kopf.index` (nor `@kopf.on.event` for NICs and Nodes): kopf (1.45) gives every
object of an indexed kind its own readiness toggle in one shared `ToggleSet`, and every
object's worker, of every watched kind, waits on that set until all indexes are filled
(`kopf/_core/reactor/queueing.py` `watcher` -> `make_toggle`; `processing.py`
`process_resource_event` -> `drop_toggle` + `operator_indexed.wait_for(True)`). Each
make/drop does `notify_all` on the set's one `asyncio.Condition`, so every waiter
re-acquires its lock in turn: O(objects^2) lock hand-offs before any handler runs
(2,000 objects: 20 s; 12,500 at the benchmark's scale: never; even the 1,050 L2 and
L3 networks alone hold the handlers back for tens of seconds). The workers need only
small views of these objects, so one list + watch per kind, in a thread, keeps them
here: NICs by interface, Node labels, L2 specs, L3 networks by L2 network and by
namespace. The workers wait for `synced` (every kind listed) before their first
run, which is what kopf's indexes guaranteed. The cache also wakes the workers a
change concerns (a NIC or Node -> its L2 networks; an L2 spec -> its L3 networks;
an L3 network's ranges or deletion -> its siblings), so they never read a view
older than the change that woke them.

The thread parses the stream; the views change only on the event loop
(`call_soon_threadsafe`), where the handlers and workers read them. A 410 Expired
or a broken connection re-lists and wakes every L2 network.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import kubernetes
from kubernetes.watch.watch import iter_resp_lines

from kvsriov.api.constants import GROUP, VERSION
from kvsriov.api.kinds import L2_PLURAL, L3_PLURAL, NIC_PLURAL
from kvsriov_operator.readiness import selects
from kvsriov_operator.render.nad import DEFAULT_NAMESPACE
from kvsriov_operator.views import L3Ref, NicCounts, NicView

log = logging.getLogger(__name__)

Obj = dict[str, Any]
RELIST_DELAY = 1.0
"""Seconds between re-list attempts after an error: a down API server is not hammered."""


class L2Interest:
    """What an L2 network's worker last evaluated: which NIC and Node changes concern it."""

    __slots__ = ("interface", "listed", "selector")

    def __init__(self, interface: str, selector: Mapping[str, str], listed: Iterable[str]) -> None:
        self.interface = interface
        self.selector = dict(selector)
        self.listed = frozenset(listed)


class ClusterCache:
    """NICs, Node labels, L2 specs and L3 networks, kept by one list+watch thread per kind."""

    def __init__(self) -> None:
        self.nics: dict[str, dict[str, NicView]] = {}  # interface -> NIC name -> view
        self.nic_interface: dict[str, str] = {}  # NIC name -> interface
        self.nic_counts: dict[str, NicCounts] = {}  # NIC name -> its VF counts (metrics only)
        self.nodes: dict[str, dict[str, str]] = {}  # node name -> labels
        self.l2: dict[str, L2Interest] = {}  # L2 network name -> what its worker evaluated
        self.l2_specs: dict[str, Obj] = {}  # L2 network name -> its metadata.name/generation and spec
        self.l3: dict[str, tuple[str, L3Ref, tuple[str, ...]]] = {}  # name -> (l2Network, ref, namespaces)
        self.l3_by_l2: dict[str, dict[str, L3Ref]] = {}  # l2Network -> name -> ref (every worker asks)
        self.synced = asyncio.Event()
        self._listed: set[str] = set()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._responses: set[Any] = set()  # the open watch responses, shut down by stop()
        self._poke: Callable[[str, str], None] = lambda kind, name: None

    # --- reads (event loop) -------------------------------------------------------------------

    def nics_on(self, interface: str) -> list[NicView]:
        return list(self.nics.get(interface, {}).values())

    def node_labels(self) -> dict[str, dict[str, str]]:
        return dict(self.nodes)

    def l2_body(self, name: str) -> Obj | None:
        """What an L3 network needs of its L2 network (not its status: thousands of node names)."""
        return self.l2_specs.get(name)

    def l3_on(self, l2_name: str) -> list[L3Ref]:
        return list(self.l3_by_l2.get(l2_name, {}).values())

    def l3_in_namespace(self, namespace: str) -> list[str]:
        return [ref.name for _, ref, namespaces in self.l3.values() if namespace in namespaces]

    def namespaces_of(self, l3_name: str) -> tuple[str, ...]:
        """Where the L3 network `l3_name` renders its NADs (none when it is not known)."""
        entry = self.l3.get(l3_name)
        return entry[2] if entry else ()

    # --- lifecycle ----------------------------------------------------------------------------

    def start(
        self,
        api: kubernetes.client.ApiClient,
        poke: Callable[[str, str], None],
        server_timeout: int,
        client_timeout: int,
    ) -> None:
        loop = asyncio.get_running_loop()
        self.synced = asyncio.Event()
        self._stop = threading.Event()  # a restarted operator gets fresh threads
        self._poke = poke
        custom, core = kubernetes.client.CustomObjectsApi(api), kubernetes.client.CoreV1Api(api)

        def lister(plural: str) -> Callable[..., Any]:
            return lambda **kw: custom.list_cluster_custom_object(GROUP, VERSION, plural, **kw)

        kinds = (
            ("nics", lister(NIC_PLURAL), self._apply_nic),
            ("nodes", core.list_node, self._apply_node),
            ("l2", lister(L2_PLURAL), self._apply_l2),
            ("l3", lister(L3_PLURAL), self._apply_l3),
        )
        for kind, list_fn, apply in kinds:
            thread = threading.Thread(
                target=self._run,
                args=(kind, list_fn, apply, loop, server_timeout, client_timeout),
                name=f"kvsriov-cache-{kind}",
                daemon=True,
            )
            self._threads.append(thread)
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for resp in list(self._responses):
            # Not resp.close(): it waits for the reader's lock, i.e. for the next event (or the
            # server's timeout) on an idle watch. A socket shutdown ends the blocked read at once.
            sock = getattr(getattr(resp, "connection", None), "sock", None)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    # --- the list+watch loop (thread) ---------------------------------------------------------

    def _run(
        self,
        kind: str,
        list_fn: Callable[..., Any],
        apply: Callable[[str, Obj], None],
        loop: asyncio.AbstractEventLoop,
        server_timeout: int,
        client_timeout: int,
    ) -> None:
        stop = self._stop
        while not stop.is_set():
            try:
                resp = list_fn(_preload_content=False, _request_timeout=client_timeout)
                listing = json.loads(resp.data)
                rv = listing["metadata"]["resourceVersion"]
                loop.call_soon_threadsafe(self._relisted, kind, listing["items"], apply)
                while not stop.is_set():
                    rv = self._watch(list_fn, rv, apply, loop, server_timeout, client_timeout, stop)
                    if rv is None:
                        break  # 410 Expired: re-list
            except RuntimeError:
                return  # the event loop is closed: the operator has stopped
            except Exception as exc:  # broken connection, server restarting: re-list
                if stop.is_set():
                    return
                log.warning("%s cache: %s; re-listing", kind, exc)
            stop.wait(RELIST_DELAY)

    def _watch(
        self,
        list_fn: Callable[..., Any],
        rv: str,
        apply: Callable[[str, Obj], None],
        loop: asyncio.AbstractEventLoop,
        server_timeout: int,
        client_timeout: int,
        stop: threading.Event,
    ) -> str | None:
        """One watch request from `rv`; returns the last resourceVersion, None on 410 Expired."""
        resp = list_fn(
            watch=True,
            resource_version=rv,
            allow_watch_bookmarks=True,
            timeout_seconds=server_timeout,
            _preload_content=False,
            _request_timeout=client_timeout,
        )
        self._responses.add(resp)
        try:
            for line in iter_resp_lines(resp):
                if stop.is_set():
                    return rv
                event = json.loads(line)
                obj = event.get("object") or {}
                if event.get("type") == "ERROR":
                    if obj.get("code") == 410:
                        return None
                    raise ConnectionError(f"watch error: {obj.get('message')}")
                rv = obj.get("metadata", {}).get("resourceVersion", rv)
                if event.get("type") != "BOOKMARK":
                    loop.call_soon_threadsafe(self._event, event["type"], obj, apply)
        finally:
            self._responses.discard(resp)
            resp.release_conn()
        return rv

    # --- state changes (event loop) -----------------------------------------------------------

    def _relisted(self, kind: str, items: list[Obj], apply: Callable[[str, Obj], None]) -> None:
        if kind == "nics":
            self.nics, self.nic_interface, self.nic_counts = {}, {}, {}
        elif kind == "nodes":
            self.nodes = {}
        elif kind == "l2":
            self.l2_specs = {}
        else:
            self.l3, self.l3_by_l2 = {}, {}
        was_synced = self.synced.is_set()
        self.synced.clear()  # no pokes while re-filling
        for obj in items:
            apply("ADDED", obj)
        self._listed.add(kind)
        if self._listed >= {"nics", "nodes", "l2", "l3"}:
            self.synced.set()
            if was_synced:  # a re-list after an error: anything may have changed
                for name in list(self.l2):
                    self._poke("l2", name)
                for name in list(self.l3):
                    self._poke("l3", name)

    def _event(self, type_: str, obj: Obj, apply: Callable[[str, Obj], None]) -> None:
        apply(type_, obj)

    def _apply_nic(self, type_: str, obj: Obj) -> None:
        """Update the NIC view; poke the L2 networks on its interface when it changed."""
        name = obj["metadata"]["name"]
        old_interface = self.nic_interface.pop(name, None)
        old = self.nics.get(old_interface, {}).pop(name, None) if old_interface is not None else None
        new = None
        self.nic_counts.pop(name, None)
        if type_ != "DELETED":
            new = NicView.from_body(obj)
            self.nics.setdefault(new.interface, {})[name] = new
            self.nic_interface[name] = new.interface
            self.nic_counts[name] = NicCounts.from_body(obj)
        if new != old and self.synced.is_set():
            for interface in {v.interface for v in (old, new) if v is not None}:
                for l2_name, interest in self.l2.items():
                    if interest.interface == interface:
                        self._poke("l2", l2_name)

    def _apply_node(self, type_: str, obj: Obj) -> None:
        """Update the Node's labels; poke the L2 networks whose selection of it changed."""
        meta = obj["metadata"]
        name = meta["name"]
        labels = dict(meta.get("labels") or {})
        if type_ == "DELETED":
            self.nodes.pop(name, None)
        else:
            self.nodes[name] = labels
        if not self.synced.is_set():
            return
        for l2_name, interest in self.l2.items():
            selected = type_ != "DELETED" and selects(interest.selector, labels)
            if selected != (name in interest.listed):
                self._poke("l2", l2_name)

    def _apply_l2(self, type_: str, obj: Obj) -> None:
        """Update the L2 spec; poke its L3 networks when it changed (SR-IOV, VLAN, interface)."""
        meta = obj["metadata"]
        name = meta["name"]
        old = self.l2_specs.pop(name, None)
        new = None
        if type_ != "DELETED":
            new = {
                "metadata": {"name": name, "generation": meta.get("generation")},
                "spec": obj.get("spec") or {},
            }
            self.l2_specs[name] = new
        if new != old and self.synced.is_set():
            for ref in self.l3_on(name):
                self._poke("l3", ref.name)

    def _apply_l3(self, type_: str, obj: Obj) -> None:
        """Update the L3 network; poke its siblings when its ranges, L2 network or life changed."""
        meta, spec = obj["metadata"], obj.get("spec") or {}
        name = meta["name"]
        old = self.l3.pop(name, None)
        if old is not None:
            self.l3_by_l2.get(old[0], {}).pop(name, None)
        new = None
        if type_ != "DELETED":
            ref = L3Ref.from_body(obj)
            namespaces = tuple(spec.get("namespaces") or [DEFAULT_NAMESPACE])
            new = (spec.get("l2Network", ""), ref, namespaces)
            self.l3[name] = new
            self.l3_by_l2.setdefault(new[0], {})[name] = ref
        if not self.synced.is_set() or (old and new and old[:2] == new[:2]):
            return
        for l2_name in {entry[0] for entry in (old, new) if entry is not None}:
            for sibling in self.l3_on(l2_name):
                if sibling.name != name:
                    self._poke("l3", sibling.name)
