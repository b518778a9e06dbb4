"""SriovL2Network rules: VXLAN refused, vlan only with Vlan and within 1..4094."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from kvsriov.api import SriovL2Network
from kvsriov.api.errors import field_errors


def l2(**spec: Any) -> SriovL2Network:
    return SriovL2Network.model_validate(
        {"metadata": {"name": "net"}, "spec": {"physicalInterface": "em2", **spec}}
    )


def refusal(**spec: Any) -> tuple[str, str]:
    with pytest.raises(ValidationError) as info:
        l2(**spec)
    errors = field_errors(info.value)
    assert len(errors) == 1, errors
    return errors[0].field, errors[0].message


def test_vlan_network_with_vlan_is_accepted() -> None:
    net = l2(type="Vlan", vlan=100)
    assert net.spec.vlan == 100
    assert net.spec.sriov.enabled is True


def test_novlan_network_without_vlan_is_accepted() -> None:
    assert l2(type="NoVlan").spec.vlan is None


def test_vxlan_is_refused_saying_why() -> None:
    field, message = refusal(type="Vxlan")
    assert field == "spec.type"
    assert message == "SR-IOV is not supported on VXLAN L2 networks; use NoVlan or Vlan"


@pytest.mark.parametrize("vlan", [0, 4095, 5000, -1])
def test_vlan_outside_1_to_4094_is_refused(vlan: int) -> None:
    field, message = refusal(type="Vlan", vlan=vlan)
    assert field == "spec.vlan"
    assert "1..4094" in message and str(vlan) in message


@pytest.mark.parametrize("vlan", [1, 4094])
def test_vlan_bounds_are_accepted(vlan: int) -> None:
    assert l2(type="Vlan", vlan=vlan).spec.vlan == vlan


def test_vlan_type_without_vlan_is_refused() -> None:
    field, message = refusal(type="Vlan")
    assert field == "spec.vlan"
    assert message == "required when spec.type is Vlan: set spec.vlan to 1..4094"


def test_vlan_with_novlan_type_is_refused() -> None:
    field, message = refusal(type="NoVlan", vlan=10)
    assert field == "spec.vlan"
    assert "only allowed with spec.type Vlan" in message


def test_interface_name_with_slash_is_refused() -> None:
    field, _ = refusal(type="NoVlan", physicalInterface="em/2")
    assert field == "spec.physicalInterface"


def test_unknown_spec_field_is_refused() -> None:
    field, message = refusal(type="NoVlan", vlanId=3)
    assert field == "spec.vlanId"
    assert "Extra inputs are not permitted" in message


@pytest.mark.parametrize("mtu", [67, 9711])
def test_mtu_outside_what_the_drivers_allow_is_refused(mtu: int) -> None:
    field, message = refusal(type="NoVlan", mtu=mtu)
    assert field == "spec.mtu" and str(mtu) in message and "68..9710" in message


@pytest.mark.parametrize("qos", [-1, 8])
def test_vlan_qos_outside_0_to_7_is_refused(qos: int) -> None:
    field, message = refusal(type="Vlan", vlan=100, vlanQoS=qos)
    assert field == "spec.vlanQoS" and "0..7" in message


@pytest.mark.parametrize(("setting", "value"), [("vlanQoS", 3), ("vlanProto", "802.1ad")])
def test_vlan_tag_settings_need_a_vlan_network(setting: str, value: object) -> None:
    field, message = refusal(type="NoVlan", **{setting: value})
    assert field == f"spec.{setting}" and "only allowed with spec.type Vlan" in message


def test_vlan_proto_is_one_of_the_two_tpids() -> None:
    field, message = refusal(type="Vlan", vlan=100, vlanProto="802.1x")
    assert field == "spec.vlanProto" and "802.1q" in message and "802.1ad" in message
