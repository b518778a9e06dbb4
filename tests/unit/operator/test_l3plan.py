"""The L3 plan against golden files; `pytest --update-golden` rewrites them (review reads the diff).

Each golden file holds the whole plan of one representative input and the outcome `settle`
makes of it when every write succeeds on a cluster that has none of its NADs yet.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from kvsriov.api.conditions import Condition, L3ConditionType
from kvsriov.kubevirt.vfrequests import kubevirt_config, vf_request_mode
from kvsriov_operator.l3plan import L3Plan, plan_l3, settle
from kvsriov_operator.outcomes import L3Outcome, NadSync
from kvsriov_operator.rules import held_ipams
from kvsriov_operator.views import L3Ref

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "l3plan"
NOW = "2026-01-01T00:00:00Z"
RANGE = {"start": "192.168.100.10", "end": "192.168.100.200"}


def l2_body(sriov: bool = True) -> dict[str, Any]:
    spec = {"type": "Vlan", "vlan": 100, "physicalInterface": "em2", "sriov": {"enabled": sriov}}
    return {"metadata": {"name": "l2-em2-vlan100", "generation": 1}, "spec": spec}


def l3_body(
    status: dict[str, Any] | None = None, namespaces: tuple[str, ...] = ("team-a",), **spec: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "metadata": {"name": "l3-vlan100", "generation": 2, "creationTimestamp": "2026-01-01T00:00:10Z"},
        "spec": {
            "l2Network": "l2-em2-vlan100",
            "ipam": {
                "cidr": "192.168.100.0/24",
                "ranges": [RANGE],
                "gateway": "192.168.100.1",
                "dns": ["192.168.100.1"],
            },
            "namespaces": list(namespaces),
        }
        | spec,
    }
    if status is not None:
        body["status"] = status
    return body


OLDER_OVERLAPPING = L3Ref(
    "l3-older",
    "2026-01-01T00:00:05Z",
    {"cidr": "192.168.100.0/24", "ranges": [{"start": "192.168.100.100", "end": "192.168.100.120"}]},
)
YOUNGER_OVERLAPPING = dataclasses.replace(
    OLDER_OVERLAPPING, name="l3-younger", created="2026-01-01T00:00:20Z"
)
WAS_ON = {"sriovEnabled": True}
#: A default KubeVirt 1.9 (its gate on) and kvsriov's webhook: the VfRequests condition.
KUBEVIRT_19 = vf_request_mode(
    kubevirt_config({"status": {"observedKubeVirtVersion": "v1.9.0"}}), "kvsriov", webhook_served=True
)

#: case -> (L3 body, siblings, L2 body or None)
CASES: dict[str, tuple[dict[str, Any], list[L3Ref], dict[str, Any] | None]] = {
    "reference-vlan": (l3_body(namespaces=("team-a", "default")), [YOUNGER_OVERLAPPING], l2_body()),
    "sriov-off-on-l2": (l3_body(WAS_ON), [], l2_body(sriov=False)),
    "overlap-with-older-sibling": (l3_body(), [OLDER_OVERLAPPING, YOUNGER_OVERLAPPING], l2_body()),
    "l2-missing": (l3_body(), [], None),
    "security-group-refused": (l3_body(networkServices={"securityGroup": True}), [], l2_body()),
    "invalid-spec": (l3_body(ipam={"cidr": "192.168.100.0/24", "ranges": []}), [], l2_body()),
}


def written(plan: L3Plan) -> NadSync:
    """What applying `plan.nads` does on a cluster with none of its NADs: each one created."""
    keys = sorted(plan.nads or {})
    return NadSync(keys, created=keys)


def as_doc(value: Any) -> Any:
    """Plain YAML data: dataclasses as mappings, conditions in their wire form."""
    if isinstance(value, Condition):
        return value.to_api()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: as_doc(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): as_doc(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_doc(v) for v in value]
    if isinstance(value, str):
        return str(value)  # a StrEnum reason as its plain value
    return value


def as_golden(plan: L3Plan, outcome: L3Outcome) -> str:
    doc = {"plan": as_doc(plan), "settled_when_every_write_succeeds": as_doc(outcome)}
    return yaml.safe_dump(doc, sort_keys=False, width=120)


@pytest.mark.parametrize("case", sorted(CASES))
def test_plan_matches_golden(case: str, matches_golden: Callable[[Path, str], None]) -> None:
    body, siblings, l2 = CASES[case]
    plan = plan_l3(body, siblings, l2, KUBEVIRT_19)
    rendered = as_golden(plan, settle(plan, written(plan), now=NOW))
    matches_golden(GOLDEN / f"{case}.yaml", rendered)


def test_no_golden_file_is_orphaned() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.yaml")) == sorted(CASES)


def test_a_missing_namespace_is_known_only_from_the_writes() -> None:
    plan = plan_l3(*CASES["reference-vlan"])
    outcome = settle(plan, NadSync(["team-a/l3-vlan100"], failed=["default"]), now=NOW)
    rendered = next(c for c in outcome.status["conditions"] if c["type"] == L3ConditionType.NADS_RENDERED)
    assert (rendered["status"], rendered["reason"]) == ("False", "NamespaceMissing")
    assert "default" in rendered["message"]
    assert outcome.status["networkAttachmentDefinitions"] == ["team-a/l3-vlan100"]
    ready = next(c for c in outcome.status["conditions"] if c["type"] == L3ConditionType.READY)
    assert (ready["status"], ready["reason"]) == ("False", "NamespaceMissing")
    assert (
        ready["message"] == "namespace default does not exist; create it, or remove it from spec.namespaces"
    )
    assert [(e.type, e.reason) for e in outcome.events if e.type == "Warning"] == [
        ("Warning", "NamespaceMissing")
    ]
    body = l3_body(outcome.status, namespaces=("team-a", "default"))
    again = settle(plan_l3(body, *CASES["reference-vlan"][1:]), NadSync([], ["default"]))
    assert not [e for e in again.events if e.type == "Warning"]  # reported once, not per resync


def test_a_foreign_nad_in_the_way_is_named_with_what_to_do() -> None:
    plan = plan_l3(*CASES["reference-vlan"])
    sync = NadSync(["team-a/l3-vlan100-vnic"], conflicts={"team-a/l3-vlan100": "not created by kvsriov"})
    outcome = settle(plan, sync, now=NOW)
    ready = next(c for c in outcome.status["conditions"] if c["type"] == L3ConditionType.READY)
    assert (ready["status"], ready["reason"]) == ("False", "NADConflict")
    assert "team-a/l3-vlan100 (not created by kvsriov)" in ready["message"]
    assert "rename or delete it" in ready["message"]
    assert ("Warning", "NADConflict") in [(e.type, e.reason) for e in outcome.events]


def test_a_refusal_already_reported_is_no_new_warning() -> None:
    body, siblings, l2 = CASES["overlap-with-older-sibling"]
    first = settle(plan_l3(body, siblings, l2), NadSync([]), now=NOW)
    assert first.warning
    again = plan_l3(l3_body(first.status), siblings, l2)
    assert again.warning is None
    assert again.refusal is not None and again.refusal.message == first.warning
    later = settle(again, NadSync([]), now="2026-01-02T00:00:00Z")
    assert later.status["conditions"] == first.status["conditions"]  # no transition: times kept


def test_held_ipams_skip_deleting_and_unparsable_siblings() -> None:
    deleting = dataclasses.replace(OLDER_OVERLAPPING, name="l3-going", deleting=True)
    broken = dataclasses.replace(OLDER_OVERLAPPING, name="l3-broken", ipam={"cidr": "not-a-cidr"})
    no_ipam = dataclasses.replace(OLDER_OVERLAPPING, name="l3-none", ipam=None)
    assert list(held_ipams([OLDER_OVERLAPPING, deleting, broken, no_ipam])) == ["l3-older"]


def test_an_invalid_spec_names_the_field_as_the_user_wrote_it() -> None:
    plan = plan_l3(*CASES["invalid-spec"])
    assert plan.refusal is not None
    assert plan.refusal.message.startswith("spec.ipam.ranges: "), plan.refusal.message  # not spec.spec.
