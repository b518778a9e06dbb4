"""`kvsriov operator` started exactly as the README's lighter-sandbox paragraph says: against
`kvsriov apiserver --kubeconfig-out kc` with `kubectl apply -f samples/`, it renders the L3
network's NAD with no other flag; `--peering` without kopf's peering object is refused at once
with what to do, never a silent wait."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kvsriov.paths import PROJECT_ROOT
from kvsriov.sandbox.wait import wait_for

KVSRIOV = [sys.executable, "-m", "kvsriov.cli"]


@pytest.fixture
def readme_sandbox(tmp_path: Path) -> Iterator[Path]:
    """`kvsriov apiserver --kubeconfig-out kc` in tmp_path, then `kubectl apply -f samples/`."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the README's commands use it")
    server = subprocess.Popen(
        [*KVSRIOV, "apiserver", "--kubeconfig-out", "kc"], cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        kc = tmp_path / "kc"
        wait_for(lambda: kc.exists() and kc.stat().st_size, what="kubeconfig kc")
        done = subprocess.run(
            [kubectl, "--kubeconfig", "kc", "apply", "-f", str(PROJECT_ROOT / "samples")],
            cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        yield tmp_path
    finally:
        server.terminate()
        server.wait(10)


def nads(directory: Path) -> list[str]:
    done = subprocess.run(
        ["kubectl", "--kubeconfig", "kc", "get", "net-attach-def", "-A", "-o", "json"],
        cwd=directory, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        return []
    return [f"{i['metadata']['namespace']}/{i['metadata']['name']}" for i in json.loads(done.stdout)["items"]]


def test_operator_with_no_flags_renders_the_samples_nad(readme_sandbox: Path) -> None:
    log = readme_sandbox / "operator.log"
    with log.open("wb") as out:
        operator = subprocess.Popen(
            [*KVSRIOV, "operator", "--kubeconfig", "kc"],
            cwd=readme_sandbox, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wanted = ["default/l3-vlan100", "default/l3-vlan100-vnic"]
        wait_for(lambda: nads(readme_sandbox) == wanted, timeout=60, what="the sample's NADs (VF and vNIC)")
        assert "standalone (no peering)" in log.read_text()  # it says how it runs, at once
    finally:
        operator.terminate()
        operator.wait(15)


def test_peering_without_kopfs_peering_object_is_refused_at_start(readme_sandbox: Path) -> None:
    done = subprocess.run(
        [*KVSRIOV, "operator", "--kubeconfig", "kc", "--peering", "kvsriov"],
        cwd=readme_sandbox, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "no ClusterKopfPeering 'kvsriov'" in done.stderr
    assert "run without --peering" in done.stderr
    assert nads(readme_sandbox) == []  # it did nothing
