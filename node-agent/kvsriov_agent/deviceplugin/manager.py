"""The agent's device plugins: made by the reconcile pass, registered with the kubelet (again after restarts).

- `observe` (called by the reconcile pass for every PF) updates that PF's resource:
  ListAndWatch streams learn of a new slicing in the same pass that made it.
- `missing` (the PF vanished, e.g. its driver was removed) marks its devices Unhealthy.
- A kubelet restart deletes every socket in its directory and creates a new
  kubelet.sock (the kubelet's documented contract for plugins: "re-register when
  kubelet.sock is recreated"). We watch for that by polling the inode of kubelet.sock
  (one stat() per interval, cheaper than an inotify thread and without a C binding).
- Allocation: the kubelet tells plugins nothing when a pod ends, so the PodResources
  List is asked after each Allocate and then every alloc_poll_s while anything is
  allocated or a device-information file is pending; a change wakes the agent so
  that SriovPhysicalNic.status.vfs[].allocated follows, and freed devices lose their file.
- An API-server outage does not touch any of this: gRPC serving needs only the host.
- No kubelet directory (a host without a kubelet, the sandbox tests): nothing is served
  until kubelet.sock appears there.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent import futures
from dataclasses import dataclass, field

import grpc

from kvsriov.api.constants import RESOURCE_PREFIX
from kvsriov.api.naming import resource_name
from kvsriov.api.nic import SriovPhysicalNicSpec, SriovPhysicalNicStatus
from kvsriov_agent.allocation import AllocationView, unallocated
from kvsriov_agent.deviceplugin import devices as dev
from kvsriov_agent.deviceplugin import devinfo
from kvsriov_agent.deviceplugin.plugin import ResourcePlugin
from kvsriov_agent.host.bundle import Host
from kvsriov_agent.podresources import PodResourcesClient, PodResourcesUnavailable
from kvsriov_agent.podresources.vms import vm_of_pod
from kvsriov_agent.settings import KubeletPaths, PluginTimings
from kvsriov_agent.vffacts import VfFacts

log = logging.getLogger(__name__)


@dataclass
class DevicePlugins:
    host: Host
    paths: KubeletPaths
    pod_resources: PodResourcesClient
    timings: PluginTimings = field(default_factory=PluginTimings)
    #: Called when allocation changed: the agent runs a pass (status shows it).
    wakeup: Callable[[], None] = lambda: None
    plugins: dict[str, ResourcePlugin] = field(default_factory=dict)
    #: device ID -> (namespace, pod) as the kubelet last reported it.
    allocated: dict[str, tuple[str, str]] = field(default_factory=dict)
    _pending: dict[str, tuple[str, float]] = field(default_factory=dict)  # device -> (resource, since)
    _seen: set[str] = field(default_factory=set)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _poke: threading.Event = field(default_factory=threading.Event)
    #: One worker pool for every plugin's server: a ListAndWatch stream holds a worker for its life,
    #: so this is two per resource (stream + calls) plus slack.
    _executor: futures.ThreadPoolExecutor = field(
        default_factory=lambda: futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="dp")
    )
    stopped: threading.Event = field(default_factory=threading.Event)
    #: resource -> why its plugin cannot serve (e.g. a read-only device-plugin directory). One
    #: failing plugin stops nothing else: the reconciler shows these as the SriovHost's
    #: DevicePluginReady condition and goes on discovering, slicing and reporting.
    errors: dict[str, str] = field(default_factory=dict)

    # -- hooks from the reconcile pass ---------------------------------------------------------

    def observe(
        self,
        status: SriovPhysicalNicStatus,
        facts: Mapping[str, VfFacts],
        spec: SriovPhysicalNicSpec,
    ) -> AllocationView:
        """Refresh the PF's resource from this pass's VF facts; returns what the kubelet holds of it,
        for the reconciler to show in the status (it alone writes the status)."""
        if not status.interface or not status.total_vfs:
            return unallocated(status)
        plugin = self._plugin(status.interface)
        table = dev.observe_devices(status, facts, spec.num_vfs, spec.vf_driver, plugin.devices)
        if plugin.update(table, spec.vf_driver):
            log.info("%s: %d devices, %d healthy", plugin.resource, len(table),
                     sum(d.healthy for d in table.values()))  # fmt: skip
        with self._lock:  # one view of both: a refresh moves a device from one to the other
            allocated = dict(self.allocated)
            handing_out = frozenset(d for d in self._pending if d not in allocated and d in table)
        owners = {
            vf.pci_address: vm_of_pod(*holder)
            for vf in status.vfs
            if (holder := allocated.get(vf.pci_address)) is not None
        }
        healthy = frozenset(pci for pci, d in table.items() if d.healthy)
        return AllocationView(healthy, owners, handing_out)

    def missing(self, interface: str) -> None:
        plugin = self.plugins.get(resource_name(interface))
        if plugin is not None and plugin.update(dev.lost(plugin.devices), plugin.driver):
            log.warning("%s: PF %s is gone; its devices are Unhealthy", plugin.resource, interface)

    def _plugin(self, interface: str) -> ResourcePlugin:
        resource = resource_name(interface)
        with self._lock:
            plugin = self.plugins.get(resource)
            if plugin is None:
                plugin = ResourcePlugin(
                    resource, self.paths.plugin_dir, self.paths.devinfo_dir, self._allocated, self._executor
                )
                for device, mtime in devinfo.existing(self.paths.devinfo_dir, resource).items():
                    self._pending[device] = (resource, mtime)  # left by an earlier run of the agent
                if self.paths.plugin_dir.is_dir():  # the kubelet's directory: never created by us
                    self._serve(plugin)
                self.plugins[resource] = plugin
                self._poke.set()  # register now, not at the next tick
            return plugin

    def _serve(self, plugin: ResourcePlugin) -> bool:
        """Serve `plugin` on its socket; a failure is recorded in `errors` (logged once), not raised."""
        try:
            plugin.serve()
        except (OSError, RuntimeError) as err:  # grpc's bind failure is a RuntimeError
            why = f"cannot serve {plugin.resource} on {plugin.socket}: {err}"
            if self.errors.get(plugin.resource) != why:
                log.warning("%s; check that the kubelet's device-plugin directory is mounted read-write", why)
                self.errors[plugin.resource] = why
                self.wakeup()
            return False
        if self.errors.pop(plugin.resource, None) is not None:
            log.info("%s: serving again on %s", plugin.resource, plugin.socket)
            self.wakeup()
        return True

    # -- kubelet registration and allocation tracking -----------------------------------------

    def start(self) -> None:
        threading.Thread(target=self._loop, name="deviceplugins", daemon=True).start()

    def stop(self) -> None:
        self.stopped.set()
        self._poke.set()
        for plugin in list(self.plugins.values()):
            plugin.stop()

    def _allocated(self, device_ids: list[str]) -> None:
        now = time.time()  # wall clock: compared with the mtimes of files from an earlier run
        with self._lock:
            for device in device_ids:
                self._pending[device] = (self._resource_of(device), now)
                self._seen.discard(device)  # a new holder: its file lives until *it* is seen and gone
        self._poke.set()

    def _resource_of(self, device: str) -> str:
        return next((r for r, p in self.plugins.items() if device in p.devices), "")

    def _loop(self) -> None:
        timings = self.timings
        last = -timings.alloc_poll_s
        while not self.stopped.is_set():
            self._register_all()
            since = time.monotonic() - last
            busy = bool(self.allocated or self._pending)
            due = self._poke.is_set() or (since >= timings.alloc_poll_s and busy)
            if due and since < timings.alloc_min_gap_s:
                self.stopped.wait(timings.alloc_min_gap_s - since)  # a burst of Allocates: one List for all
                continue
            if due:
                self._poke.clear()
                self._refresh_allocation()
                last = time.monotonic()
            self._poke.wait(timings.kubelet_poll_s)

    def _register_all(self) -> None:
        kubelet = self.paths.registration_socket
        try:
            inode = os.stat(kubelet).st_ino
        except FileNotFoundError:
            return
        for plugin in list(self.plugins.values()):
            if plugin.registered_inode == inode and plugin.serving():
                continue
            if not plugin.serving() and not self._serve(plugin):  # a restarted kubelet deleted it
                continue
            try:
                plugin.register(kubelet)
                plugin.registered_inode = inode
                log.info("registered %s with the kubelet (%s)", plugin.resource, plugin.socket.name)
            except (grpc.RpcError, OSError) as err:
                log.warning("registering %s: %s; retrying", plugin.resource, err)

    def _refresh_allocation(self) -> None:
        try:
            allocs = self.pod_resources.list_devices(RESOURCE_PREFIX + "/")
        except PodResourcesUnavailable as err:
            log.debug("allocation unknown: %s", err)
            return
        now_allocated = {a.device_id: (a.namespace, a.pod) for a in allocs}
        with self._lock:
            for device, (resource, since) in list(self._pending.items()):
                if device in now_allocated:
                    self._seen.add(device)
                elif device in self._seen or time.time() - since > self.timings.devinfo_grace_s:
                    devinfo.remove(self.paths.devinfo_dir, resource, device)  # freed: the pod is gone
                    del self._pending[device]
                    self._seen.discard(device)
            changed = now_allocated != self.allocated
            self.allocated = now_allocated
        if changed:
            self.wakeup()
