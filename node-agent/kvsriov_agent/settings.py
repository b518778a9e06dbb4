"""The node agent's settings: one object, built by the CLI (or a test) and handed down.

Timeouts, resync periods and the kubelet's paths used to be module constants, so a test that
wanted a shorter wait had to monkeypatch a module. Now each value is a field with its default
and the reason for it, the CLI's flags fill it in, and everything below takes it as an argument,
as the operator takes its Knobs (operator/kvsriov_operator/settings.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kvsriov.api.naming import DEVINFO_DIR
from kvsriov.kubeletapi.paths import DEVICE_PLUGIN_DIR, KUBELET_SOCKET, POD_RESOURCES_SOCKET


@dataclass(frozen=True)
class KubeletPaths:
    """The kubelet's sockets on this node, and where NPWG device-information files go."""

    plugin_dir: Path = Path(DEVICE_PLUGIN_DIR)
    """The kubelet's device plugin directory: plugins listen here; never created by the agent."""

    pod_resources: Path = Path(POD_RESOURCES_SOCKET)
    """PodResources List: which VF went to which pod (the slicing guard fails closed without it)."""

    devinfo_dir: Path = Path(DEVINFO_DIR)
    """Read by Multus into network-status `device-info` (k8snetworkplumbingwg device-info spec)."""

    @property
    def registration_socket(self) -> Path:
        """The kubelet's Registration service; a new inode means a restarted kubelet."""
        return self.plugin_dir / KUBELET_SOCKET


@dataclass(frozen=True)
class PluginTimings:
    """How the device plugins follow the kubelet."""

    kubelet_poll_s: float = 0.5
    """How often kubelet.sock's inode is compared: a restarted kubelet waits for plugins anyway."""

    alloc_poll_s: float = 2.0
    """PodResources is asked this often while devices are allocated (pods ending are not announced)."""

    alloc_min_gap_s: float = 0.25
    """At most one PodResources List per this long, however many Allocates come (each List dials)."""

    devinfo_grace_s: float = 60.0
    """A device-information file whose device never showed up as allocated (pod admission failed
    after Allocate) is removed after this long; Allocate precedes the kubelet's own bookkeeping."""


@dataclass(frozen=True)
class AgentSettings:
    """What the long-running agent waits for, and how long."""

    resync_s: float = 300.0
    """Seconds between safety-net passes, for what no watch or kernel event reports."""

    watch_timeout_s: int = 300
    """Seconds the API server keeps each watch open before the agent resumes it."""

    coalesce_s: float = 0.05
    """After an API event, wait this long for the rest of its burst: a burst is one pass."""

    netlink_quiet_s: float = 0.5
    """Kernel link messages start a pass once they have stopped for this long..."""

    netlink_max_delay_s: float = 3.0
    """...or this long after the first: slicing sends dozens, binding more, but not forever."""

    retry_start_s: float = 0.5
    """A failed pass is retried after this long, doubling each time..."""

    retry_max_s: float = 30.0
    """...up to this: an API server that is down is not hammered."""

    kubelet_retry_max_s: float = 5.0
    """A change refused because PodResources did not answer is retried from retry_start_s,
    doubling up to this: a pass that only asks the local kubelet costs it one List, and a user
    waits for the restore to go ahead once the kubelet is back."""

    pod_resources_timeout_s: float = 5.0
    """A kubelet that does not answer PodResources within this long is treated as unavailable."""

    kubelet: KubeletPaths = field(default_factory=KubeletPaths)
    plugins: PluginTimings = field(default_factory=PluginTimings)
