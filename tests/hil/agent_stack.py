"""The node agent's whole stack as processes, where there is no cluster: the QEMU test bed's guest.

The guest has no network to the host, so everything runs in it: the emulated API server
(`kvsriov apiserver`, a subprocess), the kubelet's PodResources served from a fixture over
a real unix socket (in this process), and the REAL agent (`kvsriov agent`) with /etc moved
to a writable directory, since the guest's root is read-only. Callers talk to the API with
the agent's own stdlib client: the `kubernetes` client takes ~20 s to start under TCG.
Test wiring, not part of kvsriov: used by tests/hil/test_agent_hil.py and benchmarks/slicing.py
(which puts tests/hil on sys.path for it).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kvsriov.api.constants import GROUP, VERSION
from kvsriov.api.kinds import HOST_PLURAL, NIC_PLURAL
from kvsriov.sandbox.wait import wait_for
from kvsriov_agent.kube import KubeClient, ResourcePath, load_config

HOSTS = ResourcePath(GROUP, VERSION, HOST_PLURAL)
NICS = ResourcePath(GROUP, VERSION, NIC_PLURAL)
#: Process start-up under TCG: interpreter, pydantic, aiohttp or pyroute2 + grpc (TESTBED.md: seconds each).
START_TIMEOUT_S = 120.0
#: SIGTERM to exit: the agent and the server stop their threads and sockets.
STOP_TIMEOUT_S = 20.0


@dataclass
class AgentStack:
    client: KubeClient
    kubeconfig: Path
    etc: Path
    agent_log: Path
    api_log: Path
    #: Seconds from the start until the API server listened, and until the agent's SriovHost existed.
    api_start_s: float
    agent_start_s: float


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def agent_stack(
    workdir: Path, node: str, host_root: str = "/", resync: float = 30.0, poll: float = 0.2
) -> Iterator[AgentStack]:
    """API server, fake kubelet and agent under `workdir`; yields once the agent created its SriovHost."""
    from kvsriov.sandbox.kubelet.podresources import FakePodResources

    kubeconfig, etc = workdir / "kubeconfig", workdir / "etc"
    api_log, agent_log = workdir / "apiserver.log", workdir / "agent.log"
    python = [sys.executable, "-m", "kvsriov.cli"]
    started = time.perf_counter()
    with api_log.open("wb") as out:
        api = subprocess.Popen(
            [*python, "apiserver", "--kubeconfig-out", str(kubeconfig)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        with FakePodResources(workdir / "kubelet/pod-resources.sock", workdir / "pods.json") as kubelet:
            kubelet.set_pods([])
            wait_for(
                lambda: "listening" in api_log.read_text(),
                timeout=START_TIMEOUT_S, interval=poll, what="the emulated API server listening",
            )  # fmt: skip
            api_start_s = time.perf_counter() - started
            cmd = [
                *python, "agent", "--node", node, "--kubeconfig", str(kubeconfig), "--host-root", host_root,
                "--etc-root", str(etc), "--pod-resources-socket", str(kubelet.socket_path),
                "--resync", str(resync),
            ]  # fmt: skip
            with agent_log.open("wb") as out:
                agent = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
            try:
                client = KubeClient(load_config(str(kubeconfig)), user_agent="kvsriov-testbed")
                wait_for(
                    lambda: client.get_or_none(HOSTS, node),
                    timeout=START_TIMEOUT_S, interval=poll, what="the SriovHost the agent creates",
                )  # fmt: skip
                yield AgentStack(
                    client, kubeconfig, etc, agent_log, api_log, api_start_s, time.perf_counter() - started
                )
            finally:
                _stop(agent)
    finally:
        _stop(api)
