"""Cloud-init network data for VF NICs: golden templates, filling, address choice."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from kvsriov.api.l3 import SriovL3Network
from kvsriov_operator.render.cloudinit import cloud_init_status, fill, network_data, static_addresses

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "cloudinit"


def l3(name: str = "l3-vlan100", **ipam: Any) -> SriovL3Network:
    spec = {
        "l2Network": "l2",
        "ipam": {
            "cidr": "192.168.100.0/24",
            "ranges": [{"start": "192.168.100.10", "end": "192.168.100.200"}],
            "gateway": "192.168.100.1",
            "dns": ["192.168.100.1", "8.8.8.8"],
        }
        | ipam,
    }
    return SriovL3Network.model_validate({"metadata": {"name": name}, "spec": spec})


CASES: dict[str, tuple[SriovL3Network, int | None]] = {
    "vlan100": (l3(), None),
    "no-gateway-no-dns": (l3("l3-isolated", gateway=None, dns=[]), None),
    "ipv6": (
        l3(
            "l3-v6",
            cidr="fd00:10::/64",
            ranges=[{"start": "fd00:10::10", "end": "fd00:10::ff"}],
            gateway="fd00:10::1",
            dns=["fd00:10::1"],
        ),
        None,
    ),
    # The L2 network's spec.mtu: the guest sets it, as nothing on the host can for a vfio-pci VF.
    "mtu9000": (l3("l3-jumbo"), 9000),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_cloud_init_status_matches_golden(case: str, matches_golden: Callable[[Path, str], None]) -> None:
    status = cloud_init_status(*CASES[case])
    network_data_text = status.pop("networkData")  # as the guest reads it, after the other fields
    rendered = yaml.safe_dump(status, sort_keys=False, width=120) + "--- # networkData\n" + network_data_text
    matches_golden(GOLDEN / f"{case}.yaml", rendered)


def test_no_golden_file_is_orphaned() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.yaml")) == sorted(CASES)


def test_filled_template_is_the_network_data_of_one_nic() -> None:
    template = cloud_init_status(l3())["networkData"]
    filled = yaml.safe_load(fill(template, "52:54:00:12:34:56", "192.168.100.201"))
    assert filled == yaml.safe_load(network_data(l3(), [("52:54:00:12:34:56", "192.168.100.201")]))
    nic = filled["ethernets"]["l3-vlan100"]
    assert nic["match"] == {"macaddress": "52:54:00:12:34:56"}  # a string, not a base-60 integer
    assert nic["addresses"] == ["192.168.100.201/24"]
    assert nic["routes"] == [{"to": "0.0.0.0/0", "via": "192.168.100.1"}]
    assert nic["nameservers"] == {"addresses": ["192.168.100.1", "8.8.8.8"]}


def test_only_the_first_of_several_nics_carries_the_default_route() -> None:
    data = yaml.safe_load(
        network_data(
            l3(), [("52:54:00:00:00:01", "192.168.100.201"), ("52:54:00:00:00:02", "192.168.100.202")]
        )
    )
    assert "routes" in data["ethernets"]["l3-vlan100-0"]
    assert "routes" not in data["ethernets"]["l3-vlan100-1"]


def test_static_addresses_skip_the_ranges_and_the_gateway() -> None:
    assert static_addresses(l3().spec.ipam) == "192.168.100.2-192.168.100.9, 192.168.100.201-192.168.100.254"


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("192.168.100.50", "lies in the whereabouts range 192.168.100.10-192.168.100.200"),
        ("192.168.100.1", "is the gateway"),
        ("10.0.0.5", "is outside 192.168.100.0/24"),
    ],
)
def test_unusable_addresses_are_refused_with_the_choice(address: str, why: str) -> None:
    with pytest.raises(ValueError, match=why) as caught:
        network_data(l3(), [("52:54:00:12:34:56", address)])
    assert str(caught.value).endswith(
        "use one of 192.168.100.2-192.168.100.9, 192.168.100.201-192.168.100.254"
    )


def test_the_guest_sets_the_networks_mtu_on_each_vf_nic() -> None:
    """A VM's filled networkData carries the L2 network's MTU; without one, none (the image's own)."""
    template = cloud_init_status(l3(), 9000)["networkData"]
    filled = yaml.safe_load(fill(template, "52:54:00:12:34:56", "192.168.100.201"))
    assert filled["ethernets"]["l3-vlan100"]["mtu"] == 9000
    data = yaml.safe_load(network_data(l3(), [("52:54:00:12:34:56", "192.168.100.201")], mtu=1400))
    assert data["ethernets"]["l3-vlan100"]["mtu"] == 1400
    assert (
        "mtu"
        not in yaml.safe_load(network_data(l3(), [("52:54:00:12:34:56", "192.168.100.201")]))["ethernets"][
            "l3-vlan100"
        ]
    )
