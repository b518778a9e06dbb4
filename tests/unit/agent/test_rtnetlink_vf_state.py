"""host/rtnetlink.py reads the VF state the agent restores (spoofchk, trust, link state, qos) as
pyroute2 encodes it, and "not reported" (the kernel's -1) stays unknown."""

from __future__ import annotations

from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

from kvsriov.hosttypes import VfInfo
from kvsriov_agent.host import rtnetlink
from kvsriov_agent.host.netlink import vf_settings


def encoded(vf_attrs: list[tuple[str, dict[str, object]]]) -> bytes:
    msg = ifinfmsg()
    msg["header"]["type"] = rtnetlink.RTM_NEWLINK
    msg["index"] = 7
    msg["attrs"] = [("IFLA_VFINFO_LIST", {"attrs": [("IFLA_VF_INFO", {"attrs": vf_attrs})]})]
    msg.encode()
    return bytes(msg.data)[rtnetlink.NLMSGHDR.size :]


def test_vf_state_as_the_kernel_reports_it() -> None:
    body = encoded(
        [
            ("IFLA_VF_MAC", {"vf": 3, "mac": "02:00:00:00:00:10"}),
            ("IFLA_VF_VLAN", {"vf": 3, "vlan": 100, "qos": 5}),
            ("IFLA_VF_SPOOFCHK", {"vf": 3, "spoofchk": 0}),
            ("IFLA_VF_LINK_STATE", {"vf": 3, "link_state": 2}),
            ("IFLA_VF_TRUST", {"vf": 3, "trust": 1}),
        ]
    )
    assert vf_settings(rtnetlink.decode_link(body)) == [
        VfInfo(3, "02:00:00:00:00:10", 100, qos=5, spoofchk=False, trust=True, link_state="disable")
    ]


def test_unreported_flags_stay_unknown() -> None:
    body = encoded(
        [
            ("IFLA_VF_MAC", {"vf": 0, "mac": "00:00:00:00:00:00"}),
            ("IFLA_VF_VLAN", {"vf": 0, "vlan": 0, "qos": 0}),
            ("IFLA_VF_SPOOFCHK", {"vf": 0, "spoofchk": rtnetlink.VF_SETTING_UNKNOWN}),
            ("IFLA_VF_TRUST", {"vf": 0, "trust": rtnetlink.VF_SETTING_UNKNOWN}),
        ]
    )
    assert vf_settings(rtnetlink.decode_link(body)) == [VfInfo(0, None, None)]
