"""host/rtnetlink.py against pyroute2: the same bytes must mean the same link and VF settings.

pyroute2 encodes the replies (as the kernel lays them out) and decodes our request; the
real kernel of this machine answers for its own links. VF lists from a real SR-IOV PF are
checked in the test bed (tests/hil/test_slicing_hil.py, test_probe_hil.py).
"""

from __future__ import annotations

import pytest
from pyroute2 import IPRoute
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

from kvsriov.hosttypes import VfInfo
from kvsriov_agent.host import rtnetlink
from kvsriov_agent.host.netlink import KernelNetlink, vf_settings


def vf_info(index: int, mac: str, vlan: int) -> tuple[str, dict[str, object]]:
    return (
        "IFLA_VF_INFO",
        {
            "attrs": [
                ("IFLA_VF_MAC", {"vf": index, "mac": mac}),
                ("IFLA_VF_VLAN", {"vf": index, "vlan": vlan, "qos": 0}),
            ]
        },
    )


def encoded_newlink(attrs: list[tuple[str, object]], index: int = 7) -> bytes:
    msg = ifinfmsg()
    msg["header"]["type"] = rtnetlink.RTM_NEWLINK
    msg["index"] = index
    msg["attrs"] = attrs
    msg.encode()
    return bytes(msg.data)[rtnetlink.NLMSGHDR.size :]


def test_decodes_link_and_vf_settings_as_pyroute2_encodes_them() -> None:
    body = encoded_newlink(
        [
            ("IFLA_IFNAME", "em1"),
            ("IFLA_ADDRESS", "52:54:00:12:34:56"),
            ("IFLA_OPERSTATE", "UP"),
            ("IFLA_CARRIER", 1),
            (
                "IFLA_VFINFO_LIST",
                {"attrs": [vf_info(0, "02:00:00:00:00:10", 100), vf_info(1, "00:00:00:00:00:00", 0)]},
            ),
        ]
    )
    link = rtnetlink.decode_link(body)
    assert (link.index, link.ifname, link.operstate, link.carrier) == (7, "em1", "UP", True)
    assert link.address is not None and rtnetlink.format_mac(link.address) == "52:54:00:12:34:56"
    assert [(vf.index, rtnetlink.format_mac(vf.mac or b""), vf.vlan) for vf in link.vfs] == [
        (0, "02:00:00:00:00:10", 100),
        (1, "00:00:00:00:00:00", 0),
    ]


def test_vf_indexes_come_from_the_kernel_not_the_order() -> None:
    body = encoded_newlink(
        [
            (
                "IFLA_VFINFO_LIST",
                {"attrs": [vf_info(5, "02:00:00:00:00:05", 7), vf_info(2, "02:00:00:00:00:02", 0)]},
            )
        ]
    )
    assert [vf.index for vf in rtnetlink.decode_link(body).vfs] == [5, 2]


def test_a_link_without_vfs_has_an_empty_list() -> None:
    assert rtnetlink.decode_link(encoded_newlink([("IFLA_IFNAME", "lo")])).vfs == []


def test_truncated_attribute_is_an_error_not_a_guess() -> None:
    body = encoded_newlink([("IFLA_IFNAME", "em1")])
    with pytest.raises(ValueError, match="truncated"):
        rtnetlink.decode_link(body[:-4])


def test_request_is_what_pyroute2_reads_as_getlink_by_name_with_vf_mask() -> None:
    msg = ifinfmsg(rtnetlink.encode_getlink("em2", seq=42))
    msg.decode()
    assert msg["header"]["type"] == rtnetlink.RTM_GETLINK
    assert msg["header"]["sequence_number"] == 42
    assert msg.get_attr("IFLA_IFNAME") == "em2"
    assert msg.get_attr("IFLA_EXT_MASK") & rtnetlink.RTEXT_FILTER_VF


def test_this_kernel_agrees_with_pyroute2_on_every_link() -> None:
    with IPRoute() as ipr:
        theirs = {link.get_attr("IFLA_IFNAME"): link for link in ipr.get_links()}
    assert theirs, "this machine has no network links at all"
    netlink = KernelNetlink()
    for name, msg in theirs.items():
        ours = netlink.link(name)
        assert ours is not None, name
        assert (ours.index, ours.operstate) == (msg["index"], msg.get_attr("IFLA_OPERSTATE")), name
        assert ours.mac == msg.get_attr("IFLA_ADDRESS"), name


def test_missing_link_is_none_and_has_no_vfs() -> None:
    netlink = KernelNetlink()
    assert netlink.link("kvsriov-none0") is None
    assert netlink.vfs("kvsriov-none0") == []


def test_zero_mac_and_vlan_mean_not_set() -> None:
    body = encoded_newlink(
        [
            (
                "IFLA_VFINFO_LIST",
                {"attrs": [vf_info(0, "00:00:00:00:00:00", 0), vf_info(1, "02:00:00:00:00:01", 9)]},
            )
        ]
    )
    assert vf_settings(rtnetlink.decode_link(body)) == [
        VfInfo(0, None, None),
        VfInfo(1, "02:00:00:00:00:01", 9),
    ]
