"""deploy/grafana/kvsriov-dashboard.json asks only for series the operator and the agent export.

The exported names are read from the real exporters (the operator's registry over a cluster cache,
the agent's exposition), with the suffixes Prometheus sees (`_total`, `_bucket`, ...), so a renamed
metric breaks this test rather than a panel.
"""

from __future__ import annotations

import json
import re

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kvsriov.paths import PROJECT_ROOT
from kvsriov_agent.metrics import AgentMetrics
from kvsriov_operator.cache import ClusterCache
from kvsriov_operator.metrics import OperatorMetrics
from kvsriov_operator.views import NicCounts

DASHBOARD = PROJECT_ROOT / "deploy" / "grafana" / "kvsriov-dashboard.json"


def exported() -> set[str]:
    cache = ClusterCache()
    cache.nic_counts["node-1.em2"] = NicCounts("node-1", "em2", 63, 8, 7, 1)
    operator = OperatorMetrics(cache)
    operator.l2_nodes["l2"] = (1, 2)
    operator.l3_ready["l3"] = True
    with operator.reconciling("l3"):
        pass
    operator.reconcile_errors.labels("l3")  # a counter's series exists once it has a label set
    agent = AgentMetrics("node-1")
    agent.sliced("em2", 1.0)
    text = generate_latest(operator.registry).decode() + agent.exposition()
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}


def test_every_queried_series_is_exported() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert exprs, "the dashboard has no queries"
    queried = {name for expr in exprs for name in re.findall(r"\bkvsriov_[a-z0-9_]+", expr)}
    assert queried - exported() == set()
    # The questions an operator of the cluster asks first are on the board.
    assert {"kvsriov_pf_vfs_allocated", "kvsriov_pf_vfs_available", "kvsriov_l3_ready"} <= queried


def test_panels_use_the_datasource_variable_and_have_unique_ids() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    assert all(p["datasource"]["uid"] == "${datasource}" for p in panels)
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["datasource"]
