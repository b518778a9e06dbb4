"""A Netlink implementation that answers from recorded data (a dict, e.g. loaded from JSON)."""

from __future__ import annotations

from typing import Any

from kvsriov.hosttypes import LinkInfo, VfInfo


class RecordedNetlink:
    """Answers from `{ifname: {"index", "operstate", "carrier", "mac", "vfs": [{"vf", "mac", "vlan"}]}}`."""

    def __init__(self, links: dict[str, dict[str, Any]] | None = None) -> None:
        self.links = links or {}

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
        return [VfInfo(index=int(v["vf"]), mac=v.get("mac"), vlan=v.get("vlan")) for v in data.get("vfs", [])]

    def set_vf(
        self,
        ifname: str,
        index: int,
        mac: str | None = None,
        vlan: int | None = None,
        spoofchk: bool | None = None,
        trust: bool | None = None,
    ) -> None:
        """Record the settings as the PF driver would report them back (IFLA_VFINFO_LIST)."""
        entries = self.links.setdefault(ifname, {}).setdefault("vfs", [])
        entry = next((v for v in entries if int(v["vf"]) == index), None)
        if entry is None:
            entry = {"vf": index}
            entries.append(entry)
        if mac is not None:
            entry["mac"] = mac
        if vlan is not None:
            entry["vlan"] = vlan or None
