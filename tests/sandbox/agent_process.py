"""Run the real agent process against the emulated API server and a host tree."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kvsriov.api.constants import GROUP, VERSION
from kvsriov.api.kinds import HOST_PLURAL, NIC_PLURAL
from kvsriov_agent.kube import KubeClient, ResourcePath, load_config
from kvsriov_agent.kube.client import Obj

NICS = ResourcePath(GROUP, VERSION, NIC_PLURAL)
HOSTS = ResourcePath(GROUP, VERSION, HOST_PLURAL)
PODS = ResourcePath("", "v1", "pods")
EVENTS = ResourcePath("", "v1", "events")


def client_for(kubeconfig: Path) -> KubeClient:
    return KubeClient(load_config(str(kubeconfig)), user_agent="kvsriov-tests")


@contextmanager
def running_agent(
    kubeconfig: Path,
    host_root: Path,
    socket: Path,
    log: Path,
    node: str = "node-1",
    resync: float = 0.3,
    options: tuple[str, ...] = (),
) -> Iterator[subprocess.Popen[bytes]]:
    """`kvsriov agent --node NODE [options]` as a process; its log is printed when a test fails."""
    cmd = [
        sys.executable, "-m", "kvsriov.cli", "agent", "--node", node, "--kubeconfig", str(kubeconfig),
        "--host-root", str(host_root), "--pod-resources-socket", str(socket), "--resync", str(resync),
        *options,
    ]  # fmt: skip
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        sys.stderr.write(log.read_text())


def condition(obj: Obj | None, type_: str) -> dict[str, str]:
    for cond in ((obj or {}).get("status") or {}).get("conditions", []):
        if cond["type"] == type_:
            return dict(cond)
    return {}


def events_for(client: KubeClient, name: str) -> list[Obj]:
    items = client.list(EVENTS, namespace="default")["items"]
    return [e for e in items if e["involvedObject"]["name"] == name]


def quiet_passes(log: Path, offset: int) -> int:
    """Reconcile passes logged after `offset` that wrote nothing (the agent logs each pass)."""
    text = log.read_text()[offset:]
    return text.count("pass complete: 0 writes")
