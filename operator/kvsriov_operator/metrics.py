"""The operator's Prometheus metrics (DESIGN §7): the cluster's VFs per PF and node, network state,
and how reconciling goes.

VF counts come from the SriovPhysicalNic statuses the cluster cache already watches, read at
scrape time: one scrape of the operator covers every node, and the node agents (each with a
tight memory budget) need no metrics library for them. L2/L3 state is what the workers last
wrote. Names follow Prometheus conventions (`_total` counters, `_seconds` histograms).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from kvsriov_operator.cache import ClusterCache

#: Seconds: an L3 reconcile writes NADs in several namespaces; an L2 one reads every selected node.
BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class OperatorMetrics:
    def __init__(self, cache: ClusterCache) -> None:
        self.registry = CollectorRegistry()
        self.reconcile_seconds = Histogram(
            "kvsriov_operator_reconcile_seconds",
            "Time to reconcile one L2 or L3 network (status written, NADs converged).",
            ["kind"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.reconcile_errors = Counter(
            "kvsriov_operator_reconcile_errors",
            "Reconciles that failed (an API error or a bug); kopf retries them.",
            ["kind"],
            registry=self.registry,
        )
        #: L2 network -> (nodes where SR-IOV is effective, nodes selected), from its last status.
        self.l2_nodes: dict[str, tuple[int, int]] = {}
        #: L3 network -> Ready, from its last status.
        self.l3_ready: dict[str, bool] = {}
        self.registry.register(_StateCollector(cache, self))

    @contextmanager
    def reconciling(self, kind: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        except Exception:
            self.reconcile_errors.labels(kind).inc()
            raise
        finally:
            self.reconcile_seconds.labels(kind).observe(time.perf_counter() - started)

    def serve(self, port: int, addr: str = "0.0.0.0") -> None:
        """The text exposition at http://addr:port/metrics, on a daemon thread."""
        start_http_server(port, addr, registry=self.registry)


class _StateCollector(Collector):
    """Gauges read from the cache and the workers' last statuses when Prometheus scrapes."""

    def __init__(self, cache: ClusterCache, metrics: OperatorMetrics) -> None:
        self.cache = cache
        self.metrics = metrics

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pf, network = ["node", "interface"], ["network"]
        supported = GaugeMetricFamily(
            "kvsriov_pf_vfs_supported", "VFs the PF can have (sriov_totalvfs).", labels=pf
        )
        vfs = GaugeMetricFamily("kvsriov_pf_vfs", "VFs the PF has now (sriov_numvfs).", labels=pf)
        available = GaugeMetricFamily("kvsriov_pf_vfs_available", "Free, healthy VFs.", labels=pf)
        allocated = GaugeMetricFamily("kvsriov_pf_vfs_allocated", "VFs held by pods (VMs).", labels=pf)
        for counts in list(self.cache.nic_counts.values()):
            labels = [counts.node, counts.interface]
            supported.add_metric(labels, counts.total)
            vfs.add_metric(labels, counts.num)
            available.add_metric(labels, counts.available)
            allocated.add_metric(labels, counts.allocated)
        yield from (supported, vfs, available, allocated)

        effective = GaugeMetricFamily(
            "kvsriov_l2_nodes_effective", "Selected nodes with VFs.", labels=network
        )
        selected = GaugeMetricFamily(
            "kvsriov_l2_nodes_selected", "Nodes the L2 network selects.", labels=network
        )
        for name, (sliced, chosen) in list(self.metrics.l2_nodes.items()):
            effective.add_metric([name], sliced)
            selected.add_metric([name], chosen)
        yield from (effective, selected)

        ready = GaugeMetricFamily("kvsriov_l3_ready", "1 when the NADs are rendered.", labels=network)
        for name, is_ready in list(self.metrics.l3_ready.items()):
            ready.add_metric([name], 1.0 if is_ready else 0.0)
        yield ready
