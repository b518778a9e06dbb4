"""A Netlink implementation that answers from recorded data (a dict, e.g. loaded from JSON).

It behaves as a PF driver's VF settings do (ip link set PF vf N ...; ip link show PF): a VF
written to is reported back as written, VLAN 0 and the zero MAC read back as "not set", and a
setting the "driver" lacks is refused with EOPNOTSUPP, as rtnetlink refuses it when the driver
has no ndo_set_vf_* for it (net/core/rtnetlink.c, do_setvfinfo; igb has no link state).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from typing import Any

from kvsriov.hosttypes import LinkInfo, VfInfo

#: What igb and ixgbe give a VF when sriov_numvfs creates it: no administrative MAC, no VLAN,
#: spoof checking on, not trusted, link state auto (igb_main.c igb_vf_configure, ixgbe_sriov.c).
NEW_VF: dict[str, Any] = {"mac": None, "vlan": None, "qos": 0, "spoofchk": True, "trust": False,
                          "link_state": "auto"}  # fmt: skip
_ZERO_MAC = "00:00:00:00:00:00"


class RecordedNetlink:
    """Answers from `{ifname: {"index", "operstate", "carrier", "mac", "vfs": [{"vf", "mac", "vlan", ...}]}}`.

    `unsupported` names the settings (set_vf's keywords: "trust", "link_state"...) that the
    simulated PF driver refuses with EOPNOTSUPP.
    """

    def __init__(
        self, links: dict[str, dict[str, Any]] | None = None, unsupported: Iterable[str] = ()
    ) -> None:
        self.links = links or {}
        self.unsupported = set(unsupported)

    def add_vfs(self, ifname: str, count: int) -> None:
        """`echo COUNT > sriov_numvfs` as the PF driver reports it: COUNT VFs in their initial state."""
        self.links.setdefault(ifname, {})["vfs"] = [{"vf": index, **NEW_VF} for index in range(count)]

    def link(self, ifname: str) -> LinkInfo | None:
        data = self.links.get(ifname)
        if data is None:
            return None
        return LinkInfo(
            ifname=ifname,
            index=int(data.get("index", 0)),
            operstate=str(data.get("operstate", "UNKNOWN")),
            carrier=data.get("carrier"),
            mac=data.get("mac"),
        )

    def vfs(self, ifname: str) -> list[VfInfo]:
        data = self.links.get(ifname, {})
        return [
            VfInfo(
                index=int(v["vf"]),
                mac=v.get("mac"),
                vlan=v.get("vlan"),
                qos=int(v.get("qos") or 0),
                spoofchk=v.get("spoofchk"),
                trust=v.get("trust"),
                link_state=str(v.get("link_state") or "auto"),
            )
            for v in data.get("vfs", [])
        ]

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
        """Record the settings as the PF driver would report them back (IFLA_VFINFO_LIST)."""
        asked = {"mac": mac, "vlan": vlan, "spoofchk": spoofchk, "trust": trust, "link_state": link_state}
        refused = sorted(k for k, v in asked.items() if v is not None and k in self.unsupported)
        if refused:
            raise OSError(
                errno.EOPNOTSUPP, f"{os.strerror(errno.EOPNOTSUPP)} (vf {index}: {', '.join(refused)})"
            )
        entries = self.links.setdefault(ifname, {}).setdefault("vfs", [])
        entry = next((v for v in entries if int(v["vf"]) == index), None)
        if entry is None:
            entry = {"vf": index}
            entries.append(entry)
        if mac is not None:
            entry["mac"] = None if mac == _ZERO_MAC else mac
        if vlan is not None:
            entry["vlan"] = vlan or None
            entry["qos"] = qos or 0
        for key, value in (("spoofchk", spoofchk), ("trust", trust), ("link_state", link_state)):
            if value is not None:
                entry[key] = value
