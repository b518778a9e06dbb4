"""The Netlink protocol: reads with the standard library (rtnetlink.py), writes with pyroute2.

The agent reads a PF's link and VF settings on every pass; reading them costs a socket and a
few struct unpacks. Writing VF settings (`ip link set IFNAME vf N ...`) is rare and nested
RTM_SETLINK encoding is what pyroute2 is for: it is imported on the first write only (~11 MiB
resident and ~3 s under TCG, TESTBED.md).
"""

from __future__ import annotations

from typing import Any

from kvsriov.hosttypes import LinkInfo, VfInfo
from kvsriov_agent.host import rtnetlink

_NO_MAC = bytes(rtnetlink.ETH_ALEN)


def _link_state(value: int) -> str:
    states = rtnetlink.VF_LINK_STATES
    return states[value] if value < len(states) else str(value)


def vf_settings(msg: rtnetlink.LinkMessage) -> list[VfInfo]:
    """The PF's VF list; the kernel reports "not set" as the zero MAC and VLAN 0."""
    return [
        VfInfo(
            index=vf.index,
            mac=rtnetlink.format_mac(vf.mac) if vf.mac and vf.mac != _NO_MAC else None,
            vlan=vf.vlan or None,
            qos=vf.qos,
            spoofchk=vf.spoofchk,
            trust=vf.trust,
            link_state=_link_state(vf.link_state),
        )
        for vf in msg.vfs
    ]


class KernelNetlink:
    """rtnetlink in the agent's own network namespace."""

    def link(self, ifname: str) -> LinkInfo | None:
        msg = rtnetlink.get_link(ifname)
        if msg is None:
            return None
        return LinkInfo(
            ifname=ifname,
            index=msg.index,
            operstate=msg.operstate or "UNKNOWN",
            carrier=msg.carrier,
            mac=rtnetlink.format_mac(msg.address) if msg.address else None,
        )

    def vfs(self, ifname: str) -> list[VfInfo]:
        msg = rtnetlink.get_link(ifname)
        return vf_settings(msg) if msg is not None else []

    def set_vf(
        self,
        ifname: str,
        index: int,
        mac: str | None = None,
        vlan: int | None = None,
        spoofchk: bool | None = None,
        trust: bool | None = None,
        qos: int | None = None,
        link_state: str | None = None,
    ) -> None:
        from pyroute2 import IPRoute

        vf: dict[str, Any] = {"vf": index}
        if mac is not None:
            vf["mac"] = mac
        if vlan is not None:
            # 0 clears the VLAN (the PF stops tagging). IFLA_VF_VLAN carries no protocol: the
            # kernel sets 802.1Q with it (net/core/rtnetlink.c, do_setvfinfo).
            vf["vlan"] = {"vlan": vlan, "qos": qos or 0}
        if spoofchk is not None:
            vf["spoofchk"] = int(spoofchk)
        if trust is not None:
            vf["trust"] = int(trust)
        if link_state is not None:
            vf["link_state"] = rtnetlink.VF_LINK_STATES.index(link_state)
        with IPRoute() as ipr:
            found = ipr.link_lookup(ifname=ifname)
            if not found:
                raise OSError(19, f"no such interface: {ifname}")  # ENODEV, as `ip link set` says
            ipr.link("set", index=found[0], vf=vf)
