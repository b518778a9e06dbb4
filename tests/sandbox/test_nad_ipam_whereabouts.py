"""The IPAM part of the NADs our operator renders, run by the real whereabouts against a real API server.

whereabouts (built from its Go module by hack/whereabouts/build.sh) is called as sriov-cni calls
its IPAM delegate: the rendered network configuration on stdin, the CNI_* environment, the pod
in CNI_ARGS. It keeps its allocations in IPPool objects on the real kube-apiserver (its CRDs
installed from the same module). The one key added to the rendered config is
`ipam.configuration_path`: the whereabouts.conf (datastore, kubeconfig) that a cluster's
whereabouts install writes to /etc/cni/net.d/whereabouts.d/ is in a temporary directory here.
A rendered config whereabouts refuses, or addresses outside the L3 network's
ranges, gateway or DNS, fail these tests. Skipped, with the reason, without Go or kube-apiserver.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kvsriov.api.l2 import SriovL2Network
from kvsriov.api.l3 import SriovL3Network
from kvsriov.paths import PROJECT_ROOT
from kvsriov.sandbox.real_apiserver import RealApiServer, install_crds
from kvsriov_operator.render.nad import render_nad

BUILD = PROJECT_ROOT / "hack" / "whereabouts" / "build.sh"
L2 = SriovL2Network.model_validate(
    {
        "metadata": {"name": "l2-em2-vlan100"},
        "spec": {"type": "Vlan", "vlan": 100, "physicalInterface": "em2"},
    }
)


class CniError(AssertionError):
    pass


@pytest.fixture(scope="module")
def whereabouts(
    real_apiserver: RealApiServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Whereabouts]:
    """The built plugin, its CRDs installed on the session's real API server, its flat config file."""
    done = subprocess.run(["bash", str(BUILD)], capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        pytest.skip(f"whereabouts cannot be built here: {done.stderr.strip()[-500:]}")
    directory = Path(done.stdout.strip().splitlines()[-1])
    install_crds(real_apiserver.kubeconfig, [directory / "crds"])
    flat = tmp_path_factory.mktemp("whereabouts.d") / "whereabouts.conf"
    flat.write_text(
        json.dumps({"datastore": "kubernetes", "kubernetes": {"kubeconfig": str(real_apiserver.kubeconfig)}})
    )
    yield Whereabouts(directory / "whereabouts", flat)


@dataclass(frozen=True)
class Whereabouts:
    plugin: Path
    flat_config: Path


def l3(name: str, cidr: str, ranges: list[tuple[str, str]], gateway: str | None) -> SriovL3Network:
    ipam: dict[str, Any] = {
        "cidr": cidr,
        "ranges": [{"start": s, "end": e} for s, e in ranges],
        "dns": ["10.0.0.53"],
    }
    if gateway:
        ipam["gateway"] = gateway
    spec = {"l2Network": L2.metadata.name, "category": "Flat", "ipam": ipam, "namespaces": ["vms"]}
    return SriovL3Network.model_validate({"metadata": {"name": name}, "spec": spec})


def rendered(network: SriovL3Network, whereabouts: Whereabouts) -> dict[str, Any]:
    """The NAD's CNI config, as Multus hands it to sriov-cni (which passes it to its IPAM delegate)."""
    conf: dict[str, Any] = json.loads(render_nad(network, L2, "vms")["spec"]["config"])
    conf["ipam"]["configuration_path"] = str(whereabouts.flat_config)
    return conf


def ipam(whereabouts: Whereabouts, command: str, conf: dict[str, Any], pod: str) -> dict[str, Any]:
    plugin = whereabouts.plugin
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": f"container-{pod}",
        "CNI_NETNS": f"/var/run/netns/{pod}",  # an IPAM plugin never enters it
        "CNI_IFNAME": "net1",
        "CNI_PATH": str(plugin.parent),
        "CNI_ARGS": f"IgnoreUnknown=true;K8S_POD_NAMESPACE=vms;K8S_POD_NAME={pod}",
    }
    done = subprocess.run(
        [str(plugin)], input=json.dumps(conf), env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise CniError(
            f"whereabouts {command} refused (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return json.loads(done.stdout) if done.stdout.strip() else {}


def address(result: dict[str, Any]) -> ipaddress.IPv4Interface:
    [ip] = result["ips"]
    return ipaddress.IPv4Interface(ip["address"])


def test_addresses_come_from_the_rendered_range_with_its_gateway_and_dns(whereabouts: Whereabouts) -> None:
    conf = rendered(
        l3("l3-wb-range", "192.168.100.0/24", [("192.168.100.10", "192.168.100.200")], "192.168.100.1"),
        whereabouts,
    )
    first = ipam(whereabouts, "ADD", conf, "vm-a")
    second = ipam(whereabouts, "ADD", conf, "vm-b")
    got = [address(first), address(second)]
    assert got[0] != got[1]
    for interface in got:
        assert interface.network == ipaddress.IPv4Network("192.168.100.0/24")
        assert (
            ipaddress.IPv4Address("192.168.100.10")
            <= interface.ip
            <= ipaddress.IPv4Address("192.168.100.200")
        )
    assert first["ips"][0]["gateway"] == "192.168.100.1"
    assert first["dns"]["nameservers"] == ["10.0.0.53"]
    # Freed on DEL: the next pod gets the released address back (lowest free first).
    ipam(whereabouts, "DEL", conf, "vm-a")
    assert address(ipam(whereabouts, "ADD", conf, "vm-c")) == got[0]


def test_range_end_is_honoured_when_the_range_is_full(whereabouts: Whereabouts) -> None:
    conf = rendered(l3("l3-wb-tiny", "10.20.0.0/24", [("10.20.0.5", "10.20.0.6")], None), whereabouts)
    got = {address(ipam(whereabouts, "ADD", conf, pod)).ip for pod in ("vm-1", "vm-2")}
    assert got == {ipaddress.IPv4Address("10.20.0.5"), ipaddress.IPv4Address("10.20.0.6")}
    with pytest.raises(CniError, match=r"(?i)could not allocate|no IP|exhaust"):
        ipam(whereabouts, "ADD", conf, "vm-3")


def test_several_ranges_are_one_pool_and_the_gaps_between_them_are_never_given(
    whereabouts: Whereabouts,
) -> None:
    ranges = [("172.16.2.1", "172.16.2.1"), ("172.16.1.1", "172.16.1.2")]
    conf = rendered(l3("l3-wb-two", "172.16.0.0/16", ranges, "172.16.0.1"), whereabouts)
    results = [ipam(whereabouts, "ADD", conf, pod) for pod in ("vm-x", "vm-y", "vm-z")]
    # One address per VM (not one per range), lowest first, none from between the ranges.
    assert [[ip["address"] for ip in r["ips"]] for r in results] == [
        ["172.16.1.1/16"],
        ["172.16.1.2/16"],
        ["172.16.2.1/16"],
    ]
    with pytest.raises(CniError, match=r"(?i)could not allocate|no IP|exhaust"):
        ipam(whereabouts, "ADD", conf, "vm-w")
