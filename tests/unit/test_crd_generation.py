"""The generated CRDs: structural, current, with the columns and rules users rely on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kvsriov import crdgen
from kvsriov.api import KINDS, SriovL2Network, SriovPhysicalNic
from kvsriov.api.crd import custom_resource_definition, open_api_schema
from kvsriov.paths import crds_dir


def walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, child in node.get("properties", {}).items():
            found += walk(child, f"{path}.{key}")
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                found += walk(node[key], f"{path}[{key}]")
    return found


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.crd.kind)
def test_schema_is_structural(kind: Any) -> None:
    for path, node in walk(open_api_schema(kind)):
        assert "type" in node, f"{path} has no type"
        for forbidden in ("$ref", "anyOf", "oneOf", "title", "$defs"):
            assert forbidden not in node, f"{path} has {forbidden}"
        assert node.get("additionalProperties") is not False, path


def test_nic_columns_are_the_reference_nic_table() -> None:
    crd = custom_resource_definition(SriovPhysicalNic)
    [version] = crd["spec"]["versions"]
    names = [c["name"].upper() for c in version["additionalPrinterColumns"] if not c.get("priority")]
    assert names == ["NODE", "INTERFACE", "MODEL", "LINK", "SPEED", "STATE", "VFS", "AGE"]
    assert version["subresources"] == {"status": {}}
    assert crd["spec"]["scope"] == "Cluster"


def test_l2_schema_refuses_vxlan_and_bounds_vlan_by_itself() -> None:
    spec = open_api_schema(SriovL2Network)["properties"]["spec"]
    assert (spec["properties"]["vlan"]["minimum"], spec["properties"]["vlan"]["maximum"]) == (1, 4094)
    rules = [r["rule"] for r in spec["x-kubernetes-validations"]]
    assert "self.type == 'Vlan' || !has(self.vlan)" in rules
    type_rules = spec["properties"]["type"]["x-kubernetes-validations"]
    assert type_rules[0]["message"].startswith("SR-IOV is not supported on VXLAN")


def test_status_has_no_defaults() -> None:
    status = open_api_schema(SriovPhysicalNic)["properties"]["status"]
    assert all("default" not in node for _, node in walk(status))


def test_committed_crds_are_current() -> None:
    assert crdgen.stale(crds_dir()) == [], "run `kvsriov crds generate`"


def test_check_reports_a_stale_file_with_a_diff(tmp_path: Path) -> None:
    crdgen.write(tmp_path)
    assert crdgen.stale(tmp_path) == []
    tampered = tmp_path / "kvsriov.io_sriovl2networks.yaml"
    tampered.write_text(tampered.read_text().replace("maximum: 4094", "maximum: 4095"))
    [diff] = crdgen.stale(tmp_path)
    assert "kvsriov.io_sriovl2networks.yaml" in diff
    assert "-                maximum: 4095" in diff and "+                maximum: 4094" in diff


def test_check_reports_a_missing_file(tmp_path: Path) -> None:
    crdgen.write(tmp_path)
    (tmp_path / "kvsriov.io_sriovhosts.yaml").unlink()
    [diff] = crdgen.stale(tmp_path)
    assert "kvsriov.io_sriovhosts.yaml" in diff


def test_omitted_sriov_settings_are_defaulted_by_the_server() -> None:
    """`default: {}` on spec.sriov lets the server apply enabled: true, so SRIOV shows in kubectl get."""
    sriov = open_api_schema(SriovL2Network)["properties"]["spec"]["properties"]["sriov"]
    assert sriov["default"] == {}
    assert sriov["properties"]["enabled"]["default"] is True
