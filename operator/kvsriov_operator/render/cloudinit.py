"""Cloud-init network data for a VM's VF NICs on an L3 network (pure).

Why: a VF bound to vfio-pci is passed into the guest whole. The pod has no
interface for it, so the address that CNI IPAM (whereabouts) reserves for the
virt-launcher pod is never configured anywhere, and KubeVirt runs no DHCP
server for SR-IOV interfaces. The guest must configure itself; cloud-init's
NoCloud `networkData` (network config version 2, netplan-shaped) is what
KubeVirt hands every cloud image.

The operator publishes, per SR-IOV L3 network, `status.cloudInit`: the prefix
length, gateway, DNS, the addresses a VM may take statically (the CIDR outside
the whereabouts ranges, so they never clash with pod allocations) and a
`networkData` template with `${MAC}` and `${ADDRESS}` placeholders. The NIC is
matched by MAC: the guest's interface names vary by image and driver, the MAC
is what the VM spec sets (`interfaces[].macAddress`) and sriov-cni gives the VF.
The L2 network's `mtu` goes in as the NIC's `mtu` (network config v2, netplan's key):
sriov-cni sets no MTU on a vfio-pci VF (it has no netdev on the host), so only the guest can.
`network_data()` fills the template for one VM (the kubectl plugin's job).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from string import Template
from typing import Any

import yaml

from kvsriov.api.ipam import Ipam
from kvsriov.api.l3 import SriovL3Network

MAC_PLACEHOLDER = "${MAC}"
ADDRESS_PLACEHOLDER = "${ADDRESS}"


def _ethernet(
    ipam: Ipam, mac: str, address: str, default_route: bool, mtu: int | None = None
) -> dict[str, Any]:
    network = ipaddress.ip_network(ipam.cidr, strict=False)
    nic: dict[str, Any] = {
        "match": {"macaddress": mac},
        "dhcp4": False,
        "dhcp6": False,
        "addresses": [f"{address}/{network.prefixlen}"],
    }
    if mtu is not None:
        nic["mtu"] = mtu
    if ipam.gateway and default_route:
        nic["routes"] = [{"to": "0.0.0.0/0" if network.version == 4 else "::/0", "via": ipam.gateway}]
    if ipam.dns:
        nic["nameservers"] = {"addresses": list(ipam.dns)}
    return nic


def _document(ethernets: dict[str, Any]) -> str:
    return yaml.safe_dump({"version": 2, "ethernets": ethernets}, sort_keys=False)


def network_data_template(l3: SriovL3Network, mtu: int | None = None) -> str:
    """networkData for one VF NIC on `l3`, with `${MAC}` and `${ADDRESS}` left to fill;
    `mtu` is the L2 network's spec.mtu.

    The MAC is quoted: unquoted, YAML 1.1 reads 52:54:00:12:34:56 as a base-60 integer.
    """
    nic = _ethernet(l3.spec.ipam, MAC_PLACEHOLDER, ADDRESS_PLACEHOLDER, True, mtu)
    text = _document({l3.metadata.name: nic})
    return text.replace(f"macaddress: {MAC_PLACEHOLDER}\n", f"macaddress: '{MAC_PLACEHOLDER}'\n")


def static_addresses(ipam: Ipam) -> str:
    """The CIDR's addresses outside the whereabouts ranges and the gateway, as `first-last` blocks."""
    network = ipaddress.ip_network(ipam.cidr, strict=False)
    taken = sorted((ipaddress.ip_address(r.start), ipaddress.ip_address(r.end)) for r in ipam.ranges)
    if ipam.gateway:
        gateway = ipaddress.ip_address(ipam.gateway)
        taken = sorted([*taken, (gateway, gateway)])
    first = network.network_address + (1 if network.num_addresses > 2 else 0)
    last = network.broadcast_address - (1 if network.version == 4 and network.num_addresses > 2 else 0)
    blocks, cursor = [], first
    for start, end in taken:
        if int(start) > int(cursor):
            blocks.append((cursor, min(start - 1, last)))
        cursor = max(cursor, end + 1)
    if int(cursor) <= int(last):
        blocks.append((cursor, last))
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in blocks if int(a) <= int(b))


def cloud_init_status(l3: SriovL3Network, mtu: int | None = None) -> dict[str, Any]:
    """status.cloudInit of an SR-IOV L3 network; `mtu` is its L2 network's spec.mtu."""
    ipam = l3.spec.ipam
    result: dict[str, Any] = {
        "prefixLength": ipaddress.ip_network(ipam.cidr, strict=False).prefixlen,
        "staticAddresses": static_addresses(ipam),
        "networkData": network_data_template(l3, mtu),
    }
    if ipam.gateway:
        result["gateway"] = ipam.gateway
    if ipam.dns:
        result["dns"] = list(ipam.dns)
    return result


def address_refusal(ipam: Ipam, address: str) -> str | None:
    """Why `address` cannot be a VM's static address on this network, or None."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"{address!r} is not an IP address"
    network = ipaddress.ip_network(ipam.cidr, strict=False)
    if ip not in network:
        return f"{address} is outside {ipam.cidr}"
    if ipam.gateway and ip == ipaddress.ip_address(ipam.gateway):
        return f"{address} is the gateway"
    for rng in ipam.ranges:
        if int(ipaddress.ip_address(rng.start)) <= int(ip) <= int(ipaddress.ip_address(rng.end)):
            return f"{address} lies in the whereabouts range {rng}, where pods get their addresses"
    return None


def network_data(l3: SriovL3Network, nics: Sequence[tuple[str, str]], mtu: int | None = None) -> str:
    """networkData for a VM's VF NICs on `l3`: (mac, static address) each; the first one routes;
    `mtu` is the L2 network's spec.mtu.

    Raises ValueError naming the address and the addresses to choose from.
    """
    for _, address in nics:
        refusal = address_refusal(l3.spec.ipam, address)
        if refusal:
            raise ValueError(f"{refusal}; use one of {static_addresses(l3.spec.ipam)}")
    name = l3.metadata.name
    ethernets = {
        f"{name}-{i}" if len(nics) > 1 else name: _ethernet(l3.spec.ipam, mac, address, i == 0, mtu)
        for i, (mac, address) in enumerate(nics)
    }
    return _document(ethernets)


def fill(template: str, mac: str, address: str) -> str:
    """The template of status.cloudInit.networkData with one NIC's MAC and address."""
    return Template(template).substitute(MAC=mac, ADDRESS=address)
