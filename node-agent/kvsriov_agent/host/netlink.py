"""The Netlink protocol over rtnetlink, with pyroute2.

pyroute2 is imported on first use: it costs ~3 s under TCG (TESTBED.md), and
the probe command only needs it when a PF has VFs.
"""

from __future__ import annotations

from typing import Any

from kvsriov_agent.host.interfaces import LinkInfo, VfInfo

#: RTEXT_FILTER_VF (include/uapi/linux/rtnetlink.h): without it in IFLA_EXT_MASK the
#: kernel leaves IFLA_VFINFO_LIST out of RTM_GETLINK replies.
RTEXT_FILTER_VF = 1
_NO_MAC = "00:00:00:00:00:00"


class Pyroute2Netlink:
    """rtnetlink in a network namespace: the agent's own (None) or a named one."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns

    def _get(self, ifname: str) -> Any | None:
        from pyroute2 import IPRoute, NetlinkError  # type: ignore[import-untyped]

        kwargs: dict[str, Any] = {"netns": self.netns} if self.netns else {}
        with IPRoute(**kwargs) as ipr:
            try:
                replies = list(ipr.link("get", ifname=ifname, ext_mask=RTEXT_FILTER_VF))
            except NetlinkError:
                return None
        return replies[0] if replies else None

    def link(self, ifname: str) -> LinkInfo | None:
        msg = self._get(ifname)
        if msg is None:
            return None
        carrier = msg.get("carrier")
        mac = msg.get("address")
        return LinkInfo(
            ifname=ifname,
            index=int(msg["index"]),
            operstate=str(msg.get("operstate") or "UNKNOWN"),
            carrier=None if carrier is None else bool(carrier),
            mac=str(mac) if mac else None,
        )

    def vfs(self, ifname: str) -> list[VfInfo]:
        msg = self._get(ifname)
        vflist = msg.get_attr("IFLA_VFINFO_LIST") if msg is not None else None
        if vflist is None:
            return []
        result: list[VfInfo] = []
        for info in vflist.get_attrs("IFLA_VF_INFO"):
            mac_attr = info.get_attr("IFLA_VF_MAC")
            vlan_attr = info.get_attr("IFLA_VF_VLAN")
            index = int(mac_attr["vf"]) if mac_attr is not None else len(result)
            mac = str(mac_attr["mac"]) if mac_attr is not None else None
            vlan = int(vlan_attr["vlan"]) if vlan_attr is not None else 0
            # The kernel reports "not set" as the zero MAC and VLAN 0.
            result.append(VfInfo(index=index, mac=None if mac in (None, _NO_MAC) else mac, vlan=vlan or None))
        return result

    def set_vf(
        self,
        ifname: str,
        index: int,
        mac: str | None = None,
        vlan: int | None = None,
        spoofchk: bool | None = None,
        trust: bool | None = None,
    ) -> None:
        from pyroute2 import IPRoute

        vf: dict[str, Any] = {"vf": index}
        if mac is not None:
            vf["mac"] = mac
        if vlan is not None:
            vf["vlan"] = vlan  # 0 clears the VLAN (the PF stops tagging)
        if spoofchk is not None:
            vf["spoofchk"] = int(spoofchk)
        if trust is not None:
            vf["trust"] = int(trust)
        kwargs: dict[str, Any] = {"netns": self.netns} if self.netns else {}
        with IPRoute(**kwargs) as ipr:
            found = ipr.link_lookup(ifname=ifname)
            if not found:
                raise OSError(19, f"no such interface: {ifname}")  # ENODEV, as `ip link set` says
            ipr.link("set", index=found[0], vf=vf)
