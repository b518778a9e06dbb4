"""A Netlink implementation that answers from recorded data (a dict, e.g. loaded from JSON)."""

from __future__ import annotations

from typing import Any

from kvsriov_agent.host.interfaces import LinkInfo, VfInfo


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
