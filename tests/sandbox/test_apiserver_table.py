"""Table output (what kubectl get prints) from the CRD's printer columns."""

from __future__ import annotations

from apiserver_helpers import GROUP, PLURAL, VERSION, raw, widget

from kvsriov.sandbox.apiserver.table import human_age, jsonpath

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def test_list_as_table_has_printer_columns(apiserver, custom):
    custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, widget("a", size=3, mode="Vlan", vlan=7))
    custom.patch_cluster_custom_object_status(
        GROUP,
        VERSION,
        PLURAL,
        "a",
        {
            "status": {
                "phase": "Ready",
                "conditions": [{"type": "Other", "status": "False"}, {"type": "Ready", "status": "True"}],
            }
        },
    )
    status, _, table = raw(apiserver.url, "GET", f"/apis/{GROUP}/{VERSION}/{PLURAL}", accept=TABLE)
    assert status == 200 and table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    names = [c["name"] for c in table["columnDefinitions"]]
    assert names == ["Name", "Size", "Mode", "Phase", "Ready", "Vlan", "Age"]
    assert table["columnDefinitions"][5]["priority"] == 1
    cells = table["rows"][0]["cells"]
    assert cells[:6] == ["a", 3, "Vlan", "Ready", "True", 7]
    assert cells[6].endswith("s")  # a fresh object is seconds old
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_missing_values_are_null_cells(apiserver, custom):
    custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, widget("a", size=1))
    _, _, table = raw(apiserver.url, "GET", f"/apis/{GROUP}/{VERSION}/{PLURAL}/a", accept=TABLE)
    assert table["rows"][0]["cells"][3] is None  # .status.phase


def test_builtin_table_has_name_and_age(apiserver):
    _, _, table = raw(apiserver.url, "GET", "/api/v1/namespaces", accept=TABLE)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Age"]
    assert "default" in [r["cells"][0] for r in table["rows"]]


def test_jsonpath_subset():
    obj = {
        "status": {"conditions": [{"type": "A", "status": "x"}, {"type": "Ready", "status": "y"}]},
        "spec": {"list": [1, 2]},
    }
    assert jsonpath(obj, '.status.conditions[?(@.type=="Ready")].status') == ["y"]
    assert jsonpath(obj, ".spec.list[1]") == [2]
    assert jsonpath(obj, ".spec.missing") == []


def test_human_age():
    import datetime as dt

    now = dt.datetime(2025, 1, 2, 0, 0, 0, tzinfo=dt.UTC)
    assert human_age("2025-01-01T23:59:30Z", now) == "30s"
    assert human_age("2025-01-01T23:55:00Z", now) == "5m"
    assert human_age("2025-01-01T00:00:00Z", now) == "24h"
