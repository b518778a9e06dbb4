"""The agent's hand-written Prometheus exposition, read back by prometheus_client's own parser over HTTP."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kvsriov_agent.metrics import AgentMetrics


@pytest.fixture
def served() -> Iterator[tuple[AgentMetrics, str]]:
    metrics = AgentMetrics('node-"1"')
    server = metrics.serve(0, "127.0.0.1")
    try:
        yield metrics, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def scrape(url: str) -> dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    return {
        family.name: {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples}
        for family in text_string_to_metric_families(text)
    }


def test_passes_errors_and_slicing_histogram(served: tuple[AgentMetrics, str]) -> None:
    metrics, url = served
    metrics.pass_done(failed=False)
    metrics.pass_done(failed=True)
    metrics.sliced("em2", 1.5)
    metrics.sliced("em2", 40.0)
    families = scrape(url)
    node = (("node", 'node-"1"'),)  # quotes escaped on the wire, read back intact
    assert families["kvsriov_agent_passes"][("kvsriov_agent_passes_total", node)] == 2
    assert families["kvsriov_agent_reconcile_errors"][("kvsriov_agent_reconcile_errors_total", node)] == 1
    slicing = families["kvsriov_agent_slicing_seconds"]
    em2 = (("interface", "em2"), ("node", 'node-"1"'))

    def bucket(le: str) -> float:
        return slicing[("kvsriov_agent_slicing_seconds_bucket", tuple(sorted((*em2, ("le", le)))))]

    assert (bucket("1.0"), bucket("2.0"), bucket("30.0"), bucket("60.0"), bucket("+Inf")) == (0, 1, 1, 2, 2)
    assert slicing[("kvsriov_agent_slicing_seconds_count", em2)] == 2
    assert slicing[("kvsriov_agent_slicing_seconds_sum", em2)] == pytest.approx(41.5)


def test_only_metrics_is_served(served: tuple[AgentMetrics, str]) -> None:
    _, url = served
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{url}/", timeout=5)
    assert refused.value.code == 404
