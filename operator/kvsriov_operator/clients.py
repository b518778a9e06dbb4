"""The bag the CLI (or a test) builds once and kopf hands to every handler in `memo.clients`.

One object, not module globals, so tests run several operators side by side. It sits
above settings.py (it holds the knobs) and below the handlers: the functions that do
the work (reconcile.py, the pure planners) take the one client they use, not this bag.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import kubernetes

from kvsriov.kubevirt.vfrequests import KubeVirtConfig, VfRequestMode, vf_request_mode
from kvsriov_operator.cache import ClusterCache
from kvsriov_operator.metrics import OperatorMetrics
from kvsriov_operator.settings import Knobs
from kvsriov_operator.workers import Wakeups


@dataclass
class Clients:
    """API clients shared by the handlers (built by the CLI or by a test, held in `memo`)."""

    api: kubernetes.client.ApiClient
    knobs: Knobs = field(default_factory=Knobs)
    wakeups: Wakeups = field(default_factory=Wakeups)
    """The per-network workers' wake-up flags (workers.py)."""
    cache: ClusterCache = field(default_factory=ClusterCache)
    """NICs and Node labels, watched by us rather than kopf (cache.py says why)."""
    rendered: dict[str, Mapping[str, dict[str, Any]]] = field(default_factory=dict)
    """L3 network -> the NADs its worker last converged to (namespace/name -> body): a NAD event
    that shows exactly that is our own write's echo and wakes nobody (handlers/l3.py)."""
    kubevirt: KubeVirtConfig = field(default_factory=lambda: KubeVirtConfig(found=False))
    """The cluster's KubeVirt CR as last seen (handlers/kubevirt.py); not found until it is."""
    metrics: OperatorMetrics = field(init=False)
    """Prometheus metrics over `cache` and the workers' outcomes (served when the CLI asks)."""

    def __post_init__(self) -> None:
        self.metrics = OperatorMetrics(self.cache)

    @property
    def vf_requests(self) -> VfRequestMode:
        """Who adds launcher pods' VF requests, given KubeVirt's gate and our knobs."""
        knobs = self.knobs
        return vf_request_mode(self.kubevirt, knobs.vf_requests, knobs.webhook.mode != "none")

    @property
    def custom(self) -> kubernetes.client.CustomObjectsApi:
        return kubernetes.client.CustomObjectsApi(self.api)

    @property
    def core(self) -> kubernetes.client.CoreV1Api:
        return kubernetes.client.CoreV1Api(self.api)

    def start_cache(self) -> None:
        """List and watch NICs, Nodes, L2 and L3 networks with the knobs' watch timeouts; a change
        wakes the workers it concerns (cache.py). Called by the startup handler in settings.py."""
        self.cache.start(
            self.api,
            self.wakeups.poke,
            self.knobs.watch_server_timeout,
            self.knobs.watch_client_timeout,
        )
