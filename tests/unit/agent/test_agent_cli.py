"""`kvsriov agent probe` against a host tree: json and table output, read-only."""

from __future__ import annotations

import json

import pytest
from agent_helpers import DATA

from kvsriov.sandbox.host.tree import HostTree
from kvsriov_agent.cli import main


def test_probe_json(ref_tree: HostTree, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "probe",
        "--host-root",
        str(ref_tree.root),
        "--node",
        "worker-1",
        "--pci-ids",
        str(DATA / "pci.ids"),
    ]
    assert main([*argv, "-o", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    host = doc["sriovHost"]
    assert host["iommu"] == {"vendor": "intel", "enabledInKernelArgs": True, "ready": True, "groups": 4}
    assert host["interruptRemapping"] == {"supported": True, "source": "sysfs"}
    nics = {n["interface"]: n for n in doc["sriovPhysicalNics"]}
    assert list(nics) == ["em1", "em2", "em3", "em4"]
    assert nics["em1"]["totalVfs"] == 63 and nics["em1"]["virtualization"] == "Virtualizable"
    assert nics["em1"]["bond"] == {"master": "bond0", "members": ["em1", "em2"]}
    assert nics["em4"]["link"] == "Disconnected"


def test_probe_table(ref_tree: HostTree, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "probe",
        "--host-root",
        str(ref_tree.root),
        "--node",
        "worker-1",
        "--pci-ids",
        str(DATA / "pci.ids"),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    header = next(line for line in out if line.startswith("NODE"))
    assert header.split() == ["NODE", "INTERFACE", "MODEL", "LINK", "SPEED", "STATE", "VFS"]
    em1 = next(line for line in out if " em1 " in line)
    assert "82599ES 10-Gigabit SFI/SFP+ Network Connection" in em1 and "10 Gb/s" in em1
    assert em1.split()[-2:] == ["Virtualizable", "0/0"]
    em4 = next(line for line in out if " em4 " in line)
    assert "Disconnected" in em4 and "NotVirtualizable" in em4
    assert any(line.startswith("Ready=True") for line in out)


def test_long_running_agent_needs_a_node(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "--node NAME is required" in capsys.readouterr().err


def test_probe_imports_neither_kubernetes_nor_kopf() -> None:
    """Under TCG `import kubernetes` alone costs 4 s and kopf 2 s (TESTBED.md): the probe and the
    long-running agent (its own stdlib client, kvsriov_agent.kube) need neither, nor aiohttp."""
    import subprocess
    import sys

    code = (
        "import sys, kvsriov.cli, kvsriov_agent.cli, kvsriov_agent.probe, kvsriov_agent.discovery,"
        " kvsriov_agent.runtime, kvsriov_agent.reconcile, kvsriov_agent.kube.watch;"
        "bad = sorted(m for m in ('kubernetes', 'kopf', 'aiohttp') if m in sys.modules);"
        "print(*bad, file=sys.stderr); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
