"""SriovL3Network and IPAM rules: addresses consistent, network services vs SR-IOV."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from pydantic import ValidationError

from kvsriov.api import SriovL3Network
from kvsriov.api.errors import field_errors
from kvsriov.api.l3 import EIP_REFUSAL, SECURITY_GROUP_REFUSAL, network_service_refusals

IPAM = {
    "cidr": "192.168.10.0/24",
    "ranges": [{"start": "192.168.10.10", "end": "192.168.10.100"}],
    "gateway": "192.168.10.1",
    "dns": ["192.168.10.1"],
}


def l3(ipam: dict[str, Any] | None = None, **spec: Any) -> SriovL3Network:
    return SriovL3Network.model_validate(
        {"metadata": {"name": "l3"}, "spec": {"l2Network": "l2", "ipam": ipam or IPAM, **spec}}
    )


def refusal(ipam: dict[str, Any] | None = None, **spec: Any) -> tuple[str, str]:
    with pytest.raises(ValidationError) as info:
        l3(ipam, **spec)
    errors = field_errors(info.value)
    assert len(errors) == 1, errors
    return errors[0].field, errors[0].message


def test_defaults_category_flat_and_sriov_inherited() -> None:
    net = l3()
    assert net.spec.category == "Flat"
    assert net.spec.sriov.enabled is None


def test_ipv6_network_is_accepted() -> None:
    net = l3(
        {"cidr": "fd00::/64", "ranges": [{"start": "fd00::10", "end": "fd00::ff"}], "gateway": "fd00::1"}
    )
    assert net.spec.ipam.network().version == 6


def test_cidr_that_is_not_a_cidr_is_refused() -> None:
    field, message = refusal({**IPAM, "cidr": "192.168.10.0/33"})
    assert field == "spec.ipam.cidr"
    assert "not a CIDR" in message


def test_cidr_with_host_bits_is_refused_with_the_fix() -> None:
    field, message = refusal({**IPAM, "cidr": "192.168.10.5/24"})
    assert field == "spec.ipam.cidr"
    assert "use 192.168.10.0/24" in message


def test_range_outside_cidr_is_refused() -> None:
    field, message = refusal({**IPAM, "ranges": [{"start": "192.168.10.10", "end": "192.168.11.5"}]})
    assert field == "spec.ipam.ranges[0]"
    assert "outside cidr 192.168.10.0/24" in message


def test_reversed_range_is_refused() -> None:
    field, message = refusal({**IPAM, "ranges": [{"start": "192.168.10.90", "end": "192.168.10.20"}]})
    assert field == "spec.ipam.ranges[0]"
    assert "swap" in message


def test_overlapping_ranges_are_refused() -> None:
    ranges = [
        {"start": "192.168.10.10", "end": "192.168.10.50"},
        {"start": "192.168.10.50", "end": "192.168.10.60"},
    ]
    field, message = refusal({**IPAM, "ranges": ranges})
    assert field == "spec.ipam.ranges[1]"
    assert "overlaps ranges[0]" in message


def test_disjoint_ranges_are_accepted() -> None:
    ranges = [
        {"start": "192.168.10.10", "end": "192.168.10.50"},
        {"start": "192.168.10.51", "end": "192.168.10.60"},
    ]
    assert len(l3({**IPAM, "ranges": ranges}).spec.ipam.ranges) == 2


def test_range_including_broadcast_is_refused() -> None:
    field, message = refusal({**IPAM, "ranges": [{"start": "192.168.10.10", "end": "192.168.10.255"}]})
    assert field == "spec.ipam.ranges[0].end"
    assert "broadcast" in message


def test_gateway_outside_cidr_is_refused() -> None:
    field, message = refusal({**IPAM, "gateway": "10.0.0.1"})
    assert field == "spec.ipam.gateway"
    assert "outside cidr" in message


@pytest.mark.parametrize(
    ("gateway", "words"),
    [
        ("192.168.10.0", "192.168.10.0 is the network address of 192.168.10.0/24"),
        ("192.168.10.255", "192.168.10.255 is the broadcast address of 192.168.10.0/24"),
    ],
)
def test_gateway_on_the_network_or_broadcast_address_is_refused(gateway: str, words: str) -> None:
    field, message = refusal({**IPAM, "gateway": gateway})
    assert field == "spec.ipam.gateway"
    assert message.startswith(words)


def test_gateway_of_a_point_to_point_subnet_is_a_host() -> None:
    net = l3(
        {"cidr": "10.0.0.0/31", "ranges": [{"start": "10.0.0.1", "end": "10.0.0.1"}], "gateway": "10.0.0.0"}
    )
    assert net.spec.ipam.gateway == "10.0.0.0"


@pytest.mark.parametrize(
    "cidr",
    ["224.1.0.0/24", "127.0.0.0/24", "0.0.0.0/0", "0.0.0.0/1", "128.0.0.0/1", "240.0.0.0/24", "ff02::/64"],
)
def test_a_pool_a_vm_nic_cannot_use_is_refused(cidr: str) -> None:
    network = ipaddress.ip_network(cidr)
    first, last = network.network_address + 1, network.network_address + 2
    ipam = {"cidr": cidr, "ranges": [{"start": str(first), "end": str(last)}]}
    field, message = refusal(ipam)
    assert field == "spec.ipam.cidr"
    assert "a VM NIC cannot use" in message and "loopback, multicast" in message


def test_gateway_inside_a_range_is_refused() -> None:
    field, message = refusal({**IPAM, "gateway": "192.168.10.20"})
    assert field == "spec.ipam.gateway"
    assert "inside ranges[0]" in message


def test_dns_entry_that_is_not_an_ip_is_refused() -> None:
    field, message = refusal({**IPAM, "dns": ["8.8.8.8", "dns.example.com"]})
    assert field == "spec.ipam.dns[1]"
    assert "not an IP address" in message


def test_security_group_refused_when_sriov_explicitly_on() -> None:
    field, message = refusal(sriov={"enabled": True}, networkServices={"securityGroup": True})
    assert field == "spec.networkServices.securityGroup"
    assert message == SECURITY_GROUP_REFUSAL


@pytest.mark.parametrize("category", ["Flat", "Public"])
def test_eip_refused_on_flat_and_public_with_sriov(category: str) -> None:
    field, message = refusal(category=category, sriov={"enabled": True}, networkServices={"eip": True})
    assert field == "spec.networkServices.eip"
    assert message == EIP_REFUSAL


@pytest.mark.parametrize("category", ["VRouter", "Vpc"])
def test_eip_accepted_on_vrouter_and_vpc_with_sriov(category: str) -> None:
    net = l3(category=category, sriov={"enabled": True}, networkServices={"eip": True})
    assert net.spec.network_services.eip


def test_services_accepted_when_sriov_off() -> None:
    net = l3(sriov={"enabled": False}, networkServices={"eip": True, "securityGroup": True})
    assert net.spec.network_services.security_group


def test_inherited_sriov_is_checked_with_the_effective_setting() -> None:
    net = l3(networkServices={"securityGroup": True, "eip": True})
    refusals = network_service_refusals(net.spec, sriov_enabled=True)
    assert [r.field for r in refusals] == ["networkServices.securityGroup", "networkServices.eip"]
    assert network_service_refusals(net.spec, sriov_enabled=False) == []


def test_unknown_category_is_refused() -> None:
    field, _ = refusal(category="Vxlan")
    assert field == "spec.category"


def test_namespace_that_is_not_a_dns_label_is_refused() -> None:
    field, _ = refusal(namespaces=["Tenant_A"])
    assert field == "spec.namespaces[0]"


def test_vf_settings_default_to_spoof_checking_on_trust_off_link_auto() -> None:
    spec = SriovL3Network.model_validate(
        {
            "metadata": {"name": "n"},
            "spec": {
                "l2Network": "l2",
                "ipam": {"cidr": "10.0.0.0/24", "ranges": [{"start": "10.0.0.10", "end": "10.0.0.20"}]},
            },
        }
    ).spec
    assert (spec.spoof_check, spec.trust, spec.link_state) == (True, False, "auto")


def test_link_state_outside_auto_enable_disable_is_refused_naming_the_field() -> None:
    body = {
        "l2Network": "l2",
        "ipam": {"cidr": "10.0.0.0/24", "ranges": [{"start": "10.0.0.10", "end": "10.0.0.20"}]},
    }
    with pytest.raises(ValidationError) as info:
        SriovL3Network.model_validate({"metadata": {"name": "n"}, "spec": {**body, "linkState": "up"}})
    errors = field_errors(info.value)
    assert [e.field for e in errors] == ["spec.linkState"] and "auto" in errors[0].message
