"""NAD rendering against golden files; `pytest --update-golden` rewrites them (review reads the diff)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from kvsriov.api.constants import NAD_RESOURCE_ANNOTATION
from kvsriov.api.l2 import SriovL2Network
from kvsriov.api.l3 import SriovL3Network
from kvsriov_operator.render.nad import drifted, render_nad, render_nads, render_vnic_nad, target_namespaces

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "nad"


def l2(
    type_: str = "Vlan", vlan: int | None = 100, interface: str = "em2", **settings: Any
) -> SriovL2Network:
    spec: dict[str, Any] = {"type": type_, "physicalInterface": interface, **settings}
    if vlan is not None:
        spec["vlan"] = vlan
    return SriovL2Network.model_validate({"metadata": {"name": "l2"}, "spec": spec})


UID = "6f1c2f4e-0000-4000-8000-000000000100"


def l3(
    name: str = "l3-vlan100", uid: str | None = None, vf: dict[str, Any] | None = None, **ipam: Any
) -> SriovL3Network:
    spec = {
        **(vf or {}),
        "l2Network": "l2",
        "ipam": {
            "cidr": "192.168.100.0/24",
            "ranges": [{"start": "192.168.100.10", "end": "192.168.100.200"}],
            "gateway": "192.168.100.1",
            "dns": ["192.168.100.1", "8.8.8.8"],
        }
        | ipam,
    }
    meta = {"name": name} | ({"uid": uid} if uid else {})
    return SriovL3Network.model_validate({"metadata": meta, "spec": spec})


CASES: dict[str, tuple[SriovL3Network, SriovL2Network]] = {
    "vlan100": (l3(uid=UID), l2()),  # read from the API server: with the owner mark
    "novlan": (l3("l3-flat"), l2("NoVlan", None)),
    "two-ranges-no-gateway-no-dns": (
        l3(
            "l3-multi",
            ranges=[
                {"start": "192.168.100.10", "end": "192.168.100.99"},
                {"start": "192.168.100.150", "end": "192.168.100.199"},
            ],
            gateway=None,
            dns=[],
        ),
        l2(),
    ),
    "ipv6": (
        l3(
            "l3-v6",
            cidr="fd00:10::/64",
            ranges=[{"start": "fd00:10::10", "end": "fd00:10::ff"}],
            gateway="fd00:10::1",
            dns=["fd00:10::1"],
        ),
        l2(vlan=300),
    ),
    "interface-needing-a-hash": (l3("l3-odd"), l2(interface="em2@1")),
    # Every VF setting away from its default: each one is a sriov-cni key (render/nad.py).
    "vf-settings": (
        l3("l3-jumbo", vf={"spoofCheck": False, "trust": True, "linkState": "enable"}),
        l2(mtu=9000, vlanQoS=5, vlanProto="802.1ad"),
    ),
}


def as_golden(nad: dict[str, Any]) -> str:
    """The NAD with its config pretty-printed beside it, so a diff reads per CNI option."""
    shown = {"nad": nad, "config": json.loads(nad["spec"]["config"])}
    return yaml.safe_dump(shown, sort_keys=False, width=120)


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendered_nad_matches_golden(case: str, matches_golden: Callable[[Path, str], None]) -> None:
    l3_net, l2_net = CASES[case]
    rendered = as_golden(render_nad(l3_net, l2_net, "default"))
    matches_golden(GOLDEN / f"{case}.yaml", rendered)


#: The vNIC NAD of the same network (bridge CNI, same pool), for a tagged and a flat L2 network.
VNIC_CASES = ("vlan100", "novlan", "interface-needing-a-hash", "vf-settings")


@pytest.mark.parametrize("case", VNIC_CASES)
def test_rendered_vnic_nad_matches_golden(case: str, matches_golden: Callable[[Path, str], None]) -> None:
    l3_net, l2_net = CASES[case]
    rendered = as_golden(render_vnic_nad(l3_net, l2_net, "default"))
    matches_golden(GOLDEN / f"vnic-{case}.yaml", rendered)


def test_vf_and_vnic_nads_share_one_ip_pool() -> None:
    """whereabouts keeps one pool per range: the same ipam means no address is given twice."""
    vf, vnic = render_nad(l3(), l2(), "default"), render_vnic_nad(l3(), l2(), "default")
    assert json.loads(vf["spec"]["config"])["ipam"] == json.loads(vnic["spec"]["config"])["ipam"]
    assert NAD_RESOURCE_ANNOTATION not in vnic["metadata"]["annotations"]  # a vNIC takes no device


def config_of(l3_net: SriovL3Network, l2_net: SriovL2Network) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(render_nad(l3_net, l2_net, "default")["spec"]["config"])
    return config


def test_default_vf_settings_keep_spoof_checking_on_and_trust_off() -> None:
    """A network that sets nothing keeps today's NAD: no keys sriov-cni would write needlessly."""
    config = config_of(l3(), l2())
    assert (config["spoofchk"], config["trust"]) == ("on", "off")
    assert not {"mtu", "vlanQoS", "vlanProto", "link_state"} & set(config)


def test_link_state_auto_is_left_to_the_driver() -> None:
    """igb refuses a link-state write; auto is the kernel's default, so it is not asked for."""
    assert "link_state" not in config_of(l3(vf={"linkState": "auto"}), l2())
    assert config_of(l3(vf={"linkState": "disable"}), l2())["link_state"] == "disable"


def test_mtu_reaches_the_vnic_nad_too() -> None:
    """The ordinary NICs of a network get the same MTU as its VF NICs."""
    vnic = render_vnic_nad(l3(), l2("NoVlan", None, mtu=1400), "default")
    assert json.loads(vnic["spec"]["config"])["mtu"] == 1400


def test_no_golden_file_is_orphaned() -> None:
    expected = [*CASES, *(f"vnic-{case}" for case in VNIC_CASES)]
    assert sorted(p.stem for p in GOLDEN.glob("*.yaml")) == sorted(expected)


def test_namespaces_default_and_dedupe() -> None:
    assert target_namespaces(l3()) == ["default"]
    net = l3().model_copy(update={"spec": l3().spec.model_copy(update={"namespaces": ["b", "a", "b"]})})
    assert list(render_nads(net, l2())) == [
        "a/l3-vlan100",
        "a/l3-vlan100-vnic",
        "b/l3-vlan100",
        "b/l3-vlan100-vnic",
    ]


def test_drift_detects_our_fields_only() -> None:
    desired = render_nad(l3(), l2(), "default")
    live = json.loads(json.dumps(desired))
    live["metadata"]["labels"]["team"] = "blue"  # someone else's label: not drift
    assert not drifted(live, desired)
    live["spec"]["config"] = "{}"
    assert drifted(live, desired)
    live = json.loads(json.dumps(desired))
    del live["metadata"]["annotations"]
    assert drifted(live, desired)


def test_a_nad_without_its_owner_mark_has_drifted() -> None:
    desired = render_nad(l3(uid=UID), l2(), "default")
    live = json.loads(json.dumps(desired))
    live["metadata"]["ownerReferences"].append(
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "1"}
    )
    assert not drifted(live, desired)  # someone else's extra reference: not drift
    del live["metadata"]["ownerReferences"]
    assert drifted(live, desired)
