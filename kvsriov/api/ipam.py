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
#: Subnets no VM network may touch: "this network" (0.0.0.0/8, so also 0.0.0.0/0 and /1),
#: loopback, multicast and the reserved 240.0.0.0/4 (with the limited broadcast); for IPv6 the
#: unspecified and loopback addresses and multicast.
RESERVED_CIDRS: tuple[str, ...] = (
    "0.0.0.0/8",
    "127.0.0.0/8",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/127",
    "ff00::/8",
)
_RESERVED_LIST = "[" + ", ".join(f"'{c}'" for c in RESERVED_CIDRS) + "]"
RESERVED_REFUSAL = (
    "contains addresses a VM NIC cannot use (0.0.0.0/8, loopback, multicast or reserved); "
    "use a unicast subnet, e.g. 192.168.10.0/24"
)
#: Rules the API server checks itself (Kubernetes CEL IP/CIDR library, 1.31+), with the same words
#: as the model's validator below. Two rules are the model's only (the webhook, and Ready=False when
#: it is off): a gateway on the broadcast address (CEL has no address arithmetic), and a range
#: outside the cidr, whose refusal names the range's index and addresses: the real kube-apiserver
#: v1.34 refuses a messageExpression that finds them as over its cost budget.
IPAM_RULES: list[JsonValue] = [
    {
        "rule": "!has(self.gateway) || !isCIDR(self.cidr) || !isIP(self.gateway) || "
        "cidr(self.cidr).containsIP(self.gateway)",
        "message": "spec.ipam.gateway must lie inside spec.ipam.cidr",
        "fieldPath": ".gateway",
    },
    {
        # A string test, as cheap as the API server's cost budget asks: spec.ipam.cidr has no host
        # bits (the model's rule), so its text starts with its network address.
        "rule": "!has(self.gateway) || !self.cidr.startsWith(self.gateway + '/')",
        "messageExpression": "self.gateway + ' is the network address of ' + self.cidr + "
        "'; use a host address, e.g. the first one after it'",
        "message": "spec.ipam.gateway must not be the network address of spec.ipam.cidr",
        "fieldPath": ".gateway",
    },
    {
        "rule": f"!isCIDR(self.cidr) || {_RESERVED_LIST}.all(c, "
        "!cidr(self.cidr).containsIP(cidr(c).ip()) && !cidr(c).containsIP(cidr(self.cidr).ip()))",
        "messageExpression": f"self.cidr + ' {RESERVED_REFUSAL}'",
        "message": f"spec.ipam.cidr {RESERVED_REFUSAL}",
        "fieldPath": ".cidr",
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
            check_gateway(network, gateway)
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
    if any(network.overlaps(reserved) for reserved in map(ipaddress.ip_network, RESERVED_CIDRS)
           if reserved.version == network.version):  # fmt: skip
        raise ApiRuleError("cidr", f"{network} {RESERVED_REFUSAL}")
    return network


def check_gateway(network: IPNetwork, gateway: IPAddress) -> None:
    """A gateway on the subnet's network or (IPv4) broadcast address is no host: routes `via` it fail."""
    if network.num_addresses <= 2:
        return  # /31 and /32 (RFC 3021), /127 and /128: every address is a host
    if gateway == network.network_address:
        raise ApiRuleError(
            "gateway",
            f"{gateway} is the network address of {network}; use a host address, e.g. the first one after it",
        )
    if network.version == 4 and gateway == network.broadcast_address:
        raise ApiRuleError(
            "gateway",
            f"{gateway} is the broadcast address of {network}; use a host address, e.g. the one before it",
        )


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
