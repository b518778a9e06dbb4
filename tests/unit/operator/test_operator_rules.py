"""rules.py: the cross-object rules of an L3 network, each naming the field and the fix."""

from __future__ import annotations

from typing import Any

from kvsriov.api.ipam import Ipam
from kvsriov.api.l2 import SriovL2NetworkSpec
from kvsriov.api.l3 import SECURITY_GROUP_REFUSAL, SriovL3NetworkSpec
from kvsriov_operator.rules import effective_sriov, l3_refusals, overlap_refusals, service_refusals


def l2(enabled: bool = True) -> SriovL2NetworkSpec:
    return SriovL2NetworkSpec.model_validate({"type": "NoVlan", "physicalInterface": "em2",
                                              "sriov": {"enabled": enabled}})  # fmt: skip


def ipam(start: str = "192.168.1.10", end: str = "192.168.1.100") -> dict[str, Any]:
    return {"cidr": "192.168.1.0/24", "ranges": [{"start": start, "end": end}]}


def l3(sriov: bool | None = None, **extra: Any) -> SriovL3NetworkSpec:
    spec: dict[str, Any] = {"l2Network": "l2-em2", "ipam": ipam(), "sriov": {"enabled": sriov}} | extra
    return SriovL3NetworkSpec.model_validate(spec)


def test_effective_sriov_inherits_and_never_exceeds_the_l2() -> None:
    assert effective_sriov(l3(), l2(True)) is True
    assert effective_sriov(l3(), l2(False)) is False
    assert effective_sriov(l3(False), l2(True)) is False
    assert effective_sriov(l3(True), l2(False)) is False


def test_sriov_on_over_an_l2_without_it_is_refused_naming_the_l2() -> None:
    (refusal,) = l3_refusals(l3(True), l2(False), {})
    assert refusal.field == "spec.sriov.enabled"
    assert "SriovL2Network l2-em2" in refusal.message and "set it to false" in refusal.message
    assert l3_refusals(l3(), l2(False), {}) == []  # inheriting "off" is fine


def test_network_services_follow_the_effective_setting() -> None:
    spec = l3(networkServices={"securityGroup": True, "eip": True}, category="Flat")
    fields = [e.field for e in service_refusals(spec, sriov_enabled=True)]
    assert fields == ["spec.networkServices.securityGroup", "spec.networkServices.eip"]
    assert service_refusals(spec, sriov_enabled=False) == []
    inherited = l3_refusals(spec, l2(True), {})
    assert inherited[0].message == SECURITY_GROUP_REFUSAL
    assert l3_refusals(spec, l2(False), {}) == []
    vpc = l3(networkServices={"eip": True}, category="Vpc")
    assert service_refusals(vpc, sriov_enabled=True) == []


def test_overlap_with_an_older_sibling_is_refused() -> None:
    mine = Ipam.model_validate(ipam("192.168.1.50", "192.168.1.150"))
    siblings = {
        "l3-old": Ipam.model_validate(ipam()),
        "l3-far": Ipam.model_validate(ipam("192.168.1.200", "192.168.1.250")),
    }
    (refusal,) = overlap_refusals("l2-em2", mine, siblings)
    assert refusal.field == "spec.ipam.ranges[0]"
    assert "l3-old" in refusal.message and "192.168.1.10-192.168.1.100" in refusal.message
    assert "choose addresses outside it" in refusal.message
    assert overlap_refusals("l2-em2", mine, {"l3-far": siblings["l3-far"]}) == []
