"""Device plugin tier (DESIGN §5): the real agent process, its gRPC device plugins over unix sockets,
a kubelet stand-in (kvsriov.sandbox.kubelet.deviceplugins), the FUSE simulated host and the
emulated API server. Skipped, with the reason, where FUSE cannot mount."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from plugin_node import NICS, Node

from kvsriov.sandbox.host.simhost import fuse_unavailable, mount_sim_host
from kvsriov.sandbox.kubelet.deviceplugins import StandInKubelet
from kvsriov.sandbox.kubelet.podresources import FakePodResources
from kvsriov.sandbox.wait import wait_for
from kvsriov_agent.kube import KubeClient, load_config


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = fuse_unavailable()
    if reason is not None:
        for item in items:
            if "tests/grpc/" in str(item.fspath) and "sim" in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.skip(reason=str(reason)))


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Path]:
    with mount_sim_host(tmp_path / "host") as root:
        yield root


@pytest.fixture
def node(kubeconfig: Path, sim: Path, tmp_path: Path) -> Iterator[Node]:
    """The agent running on `sim`, serving its device plugins to a started kubelet stand-in."""
    plugin_dir, devinfo = tmp_path / "device-plugins", tmp_path / "devinfo" / "dp"
    with FakePodResources(tmp_path / "pod-resources.sock", tmp_path / "pods.json") as pod_resources:
        pod_resources.set_pods([])
        with StandInKubelet(plugin_dir, pod_resources) as kubelet:
            client = KubeClient(load_config(str(kubeconfig)), user_agent="kvsriov-tests")
            cmd = [
                sys.executable, "-m", "kvsriov.cli", "agent", "--node", "node-1",
                "--kubeconfig", str(kubeconfig),
                "--host-root", str(sim), "--pod-resources-socket", str(pod_resources.socket_path),
                "--resync", "0.3", "--device-plugin-dir", str(plugin_dir), "--devinfo-dir", str(devinfo),
            ]  # fmt: skip
            log = tmp_path / "agent.log"
            with log.open("ab") as out:
                proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
            try:
                wait_for(lambda: client.get_or_none(NICS, "node-1.em2"), what="em1/em2 adopted")
                yield Node(sim, kubelet, pod_resources, client, devinfo)
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                sys.stderr.write(log.read_text())
