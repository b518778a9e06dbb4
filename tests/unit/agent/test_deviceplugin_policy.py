"""GetPreferredAllocation policy and device-information naming: pure functions, no sockets."""

from __future__ import annotations

import json
from pathlib import Path

from kvsriov.api.naming import pcidevice_env_name
from kvsriov_agent.deviceplugin import devinfo
from kvsriov_agent.deviceplugin.devices import Device
from kvsriov_agent.deviceplugin.policy import preferred


def vfs(pf: str, numa: int | None, count: int, bus: int) -> dict[str, Device]:
    return {
        f"0000:{bus:02x}:10.{i}": Device(
            f"0000:{bus:02x}:10.{i}", pf, f"0000:{bus:02x}:00.0", i, numa, str(i), True
        )
        for i in range(count)
    }


# Two NUMA nodes: node 0 holds em1 (2 free VFs), node 1 holds em2 (3) and em3 (3).
KNOWN = {**vfs("em1", 0, 2, 0x03), **vfs("em2", 1, 3, 0x81), **vfs("em3", 1, 3, 0x82)}
ALL = list(KNOWN)


def test_one_numa_node_that_fits_the_whole_request() -> None:
    chosen = preferred(KNOWN, ALL, [], 3)
    assert {KNOWN[i].numa for i in chosen} == {1}
    assert {KNOWN[i].pf for i in chosen} == {"em2"}  # one PF holds it: no spreading


def test_spread_across_pfs_only_when_one_pf_cannot() -> None:
    chosen = preferred(KNOWN, ALL, [], 5)
    assert {KNOWN[i].numa for i in chosen} == {1}
    assert len(chosen) == 5 and {KNOWN[i].pf for i in chosen} == {"em2", "em3"}


def test_must_include_pins_its_numa_node() -> None:
    em1_vf = next(i for i, d in KNOWN.items() if d.pf == "em1")
    chosen = preferred(KNOWN, ALL, [em1_vf], 2)
    assert chosen[0] == em1_vf and {KNOWN[i].numa for i in chosen} == {0}


def test_no_single_node_fits_then_largest_first() -> None:
    chosen = preferred(KNOWN, ALL, [], 7)
    assert len(chosen) == 7 and [KNOWN[i].numa for i in chosen].count(1) == 6


def test_unknown_and_unhealthy_are_passed_over() -> None:
    sick = {
        k: Device(d.pci, d.pf, d.pf_pci, d.index, d.numa, d.group, d.pf != "em2") for k, d in KNOWN.items()
    }
    chosen = preferred(sick, [*ALL, "0000:ff:00.0"], [], 3)
    assert {sick[i].pf for i in chosen} == {"em3"}


def test_devinfo_file_name_and_body(tmp_path: Path) -> None:
    path = devinfo.write(tmp_path, "kvsriov.io/em1", "0000:03:10.0", "0000:03:00.0", "41")
    assert path.name == "kvsriov.io-em1-0000:03:10.0-device.json"
    assert json.loads(path.read_text()) == {
        "type": "pci",
        "version": "1.1.0",
        "pci": {"pci-address": "0000:03:10.0", "pf-pci-address": "0000:03:00.0", "vfio-group": "41"},
    }
    netdevice = devinfo.write(tmp_path, "kvsriov.io/em2", "0000:04:10.0", "0000:04:00.0")
    assert "vfio-group" not in json.loads(netdevice.read_text())["pci"]
    assert devinfo.existing(tmp_path, "kvsriov.io/em1").keys() == {"0000:03:10.0"}
    devinfo.remove(tmp_path, "kvsriov.io/em1", "0000:03:10.0")
    assert not path.exists()
    assert pcidevice_env_name("kvsriov.io/em1") == "PCIDEVICE_KVSRIOV_IO_EM1"
