"""Typed IPAM of an L3 network and the rules one network's addresses must follow.

The reference cloud takes a CIDR, IP ranges, a gateway and DNS servers; so do we.
Rules spanning several networks (overlap with a sibling L3 network) belong to
the operator, which sees them all.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Self

from pydantic import Field, model_validator
from pydantic.json_schema import JsonDict, JsonValue

from kvsriov.api.errors import ApiRuleError
from kvsriov.api.meta import ApiModel

# Addresses are compared as int() where their versions match: typeshed types `<` only between
# two addresses of one class, which a union of both cannot show.
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_IP_RULE: JsonDict = {
    "x-kubernetes-validations": [
        {"rule": "isIP(self)", "message": "must be an IP address, e.g. 192.168.10.1"}
    ]
}
_CIDR_RULE: JsonDict = {
    "x-kubernetes-validations": [{"rule": "isCIDR(self)", "message": "must be a CIDR, e.g. 192.168.10.0/24"}]
}
#: Containment rules the API server can check itself (Kubernetes CEL IP/CIDR library, 1.31+).
IPAM_RULES: list[JsonValue] = [
    {
        "rule": "!isCIDR(self.cidr) || self.ranges.all(r, !isIP(r.start) || !isIP(r.end) || "
        "(cidr(self.cidr).containsIP(r.start) && cidr(self.cidr).containsIP(r.end)))",
        "message": "every range must lie inside spec.ipam.cidr",
        "fieldPath": ".ranges",
    },
    {
        "rule": "!has(self.gateway) || !isCIDR(self.cidr) || !isIP(self.gateway) || "
        "cidr(self.cidr).containsIP(self.gateway)",
        "message": "spec.ipam.gateway must lie inside spec.ipam.cidr",
        "fieldPath": ".gateway",
    },
]


class IpRange(ApiModel):
    start: str = Field(max_length=64, description="First address handed out.", json_schema_extra=_IP_RULE)
    end: str = Field(
        max_length=64, description="Last address handed out (inclusive).", json_schema_extra=_IP_RULE
    )

    def addresses(self) -> tuple[IPAddress, IPAddress]:
        return ipaddress.ip_address(self.start), ipaddress.ip_address(self.end)

    def overlaps(self, other: IpRange) -> bool:
        (a0, a1), (b0, b1) = self.addresses(), other.addresses()
        return a0.version == b0.version and int(a0) <= int(b1) and int(b0) <= int(a1)

    def __str__(self) -> str:
        return f"{self.start}-{self.end}"


class Ipam(ApiModel):
    model_config = {"json_schema_extra": {"x-kubernetes-validations": IPAM_RULES}}

    cidr: str = Field(
        max_length=64, description="The subnet, e.g. 192.168.10.0/24.", json_schema_extra=_CIDR_RULE
    )
    ranges: list[IpRange] = Field(
        min_length=1, max_length=64, description="Address ranges inside cidr that VMs get addresses from."
    )
    gateway: str | None = Field(
        default=None, max_length=64, description="Default gateway, inside cidr.", json_schema_extra=_IP_RULE
    )
    dns: list[Annotated[str, Field(max_length=64, json_schema_extra=_IP_RULE)]] = Field(
        default_factory=list, max_length=8, description="DNS servers (IP addresses)."
    )

    @model_validator(mode="after")
    def _addresses_are_consistent(self) -> Self:
        network = parse_cidr(self.cidr)
        for i, rng in enumerate(self.ranges):
            check_range(network, rng, f"ranges[{i}]")
        for i, rng in enumerate(self.ranges):
            for j in range(i):
                if rng.overlaps(self.ranges[j]):
                    raise ApiRuleError(
                        f"ranges[{i}]", f"{rng} overlaps ranges[{j}] {self.ranges[j]}; make them disjoint"
                    )
        if self.gateway is not None:
            gateway = parse_ip(self.gateway, "gateway")
            if gateway not in network:
                raise ApiRuleError(
                    "gateway", f"{gateway} is outside cidr {network}; use an address inside it"
                )
            for i, rng in enumerate(self.ranges):
                start, end = rng.addresses()
                if int(start) <= int(gateway) <= int(end):
                    raise ApiRuleError(
                        "gateway", f"{gateway} is inside ranges[{i}] {rng}; exclude it from the range"
                    )
        for i, server in enumerate(self.dns):
            parse_ip(server, f"dns[{i}]")
        return self

    def network(self) -> IPNetwork:
        return ipaddress.ip_network(self.cidr)


def parse_cidr(text: str) -> IPNetwork:
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ApiRuleError("cidr", f"{text!r} is not a CIDR; write it like 192.168.10.0/24") from None
    if str(network) != text and network.with_prefixlen != text:
        raise ApiRuleError("cidr", f"{text!r} has host bits set; use {network}")
    return network


def parse_ip(text: str, field: str) -> IPAddress:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise ApiRuleError(field, f"{text!r} is not an IP address") from None


def check_range(network: IPNetwork, rng: IpRange, field: str) -> None:
    start = parse_ip(rng.start, f"{field}.start")
    end = parse_ip(rng.end, f"{field}.end")
    if start.version != network.version or end.version != network.version:
        raise ApiRuleError(field, f"{rng} is not IPv{network.version} like cidr {network}")
    if start not in network or end not in network:
        raise ApiRuleError(field, f"{rng} is outside cidr {network}; keep both ends inside it")
    if int(start) > int(end):
        raise ApiRuleError(field, f"start {start} is after end {end}; swap them")
    if network.version == 4 and network.prefixlen < 31:
        if start == network.network_address:
            raise ApiRuleError(
                f"{field}.start", f"{start} is the network address of {network}; start after it"
            )
        if end == network.broadcast_address:
            raise ApiRuleError(f"{field}.end", f"{end} is the broadcast address of {network}; end before it")
