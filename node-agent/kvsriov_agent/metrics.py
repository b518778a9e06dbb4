"""The node agent's Prometheus metrics: reconcile passes and their errors, slicing durations.

Written by hand in the text exposition format (version 0.0.4): prometheus_client costs ~3 MiB
resident (measured), a twentieth of the agent's 60 MiB budget, for what is here a few counters
and one histogram. tests/unit/agent/test_agent_metrics.py parses the output with
prometheus_client's own parser. The cluster-wide VF counts per PF and node come from the
operator's metrics (it watches every SriovPhysicalNic already).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Seconds: a kernel write plus binding takes ~1 s per few VFs; 0 -> 64 -> 0 with binding, a minute.
SLICING_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class AgentMetrics:
    """Thread-safe counters; `exposition()` renders them for a scrape."""

    def __init__(self, node: str) -> None:
        self.node = node
        self._lock = threading.Lock()
        self.passes = 0
        self.errors = 0
        #: interface -> (per-bucket counts, sum, count)
        self._slicing: dict[str, tuple[list[int], float, int]] = {}

    def pass_done(self, failed: bool) -> None:
        with self._lock:
            self.passes += 1
            self.errors += int(failed)

    def sliced(self, interface: str, seconds: float) -> None:
        with self._lock:
            buckets, total, count = self._slicing.get(interface, ([0] * len(SLICING_BUCKETS), 0.0, 0))
            for i, bound in enumerate(SLICING_BUCKETS):
                if seconds <= bound:
                    buckets[i] += 1
            self._slicing[interface] = (buckets, total + seconds, count + 1)

    def exposition(self) -> str:
        node = f'node="{_label(self.node)}"'
        with self._lock:
            lines = [
                "# HELP kvsriov_agent_passes_total Reconcile passes of the node agent.",
                "# TYPE kvsriov_agent_passes_total counter",
                f"kvsriov_agent_passes_total{{{node}}} {self.passes}",
                "# HELP kvsriov_agent_reconcile_errors_total Failed passes (API or host error); retried.",
                "# TYPE kvsriov_agent_reconcile_errors_total counter",
                f"kvsriov_agent_reconcile_errors_total{{{node}}} {self.errors}",
                "# HELP kvsriov_agent_slicing_seconds Time to change a PF's VF count and bind its VFs.",
                "# TYPE kvsriov_agent_slicing_seconds histogram",
            ]
            for interface, (buckets, total, count) in sorted(self._slicing.items()):
                labels = f'{node},interface="{_label(interface)}"'
                lines += list(_histogram("kvsriov_agent_slicing_seconds", labels, buckets, total, count))
        return "\n".join(lines) + "\n"

    def serve(self, port: int, addr: str = "0.0.0.0") -> ThreadingHTTPServer:
        """GET /metrics on a daemon thread; returns the server (tests shut it down)."""
        metrics = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] != "/metrics":
                    self.send_error(404, "only /metrics is served")
                    return
                body = metrics.exposition().encode()
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                """Scrapes every 30 s would drown the agent's own log."""

        server = ThreadingHTTPServer((addr, port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
        return server


def _histogram(name: str, labels: str, buckets: list[int], total: float, count: int) -> Iterable[str]:
    for bound, n in zip(SLICING_BUCKETS, buckets, strict=True):
        yield f'{name}_bucket{{{labels},le="{bound}"}} {n}'
    yield f'{name}_bucket{{{labels},le="+Inf"}} {count}'
    yield f"{name}_sum{{{labels}}} {total}"
    yield f"{name}_count{{{labels}}} {count}"
