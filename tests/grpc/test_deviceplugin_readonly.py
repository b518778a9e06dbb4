"""A device-plugin directory the agent cannot write (seen with a read-only hostPath): the agent
goes on discovering, slicing and reporting, shows DevicePluginReady=False on its SriovHost with
the error and what to check, and serves again (DevicePluginReady=True, registered) once the
directory is writable.

The directory is made read-only by a read-only bind mount (chmod does not stop root); where this
machine cannot bind-mount, the test is skipped with the reason.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from plugin_node import NICS, SLICE_TIMEOUT

from kvsriov.api.constants import GROUP, VERSION
from kvsriov.api.kinds import HOST_PLURAL
from kvsriov.sandbox.kubelet.deviceplugins import StandInKubelet
from kvsriov.sandbox.kubelet.podresources import FakePodResources
from kvsriov.sandbox.wait import wait_for
from kvsriov_agent.kube import KubeClient, ResourcePath, load_config

HOSTS = ResourcePath(GROUP, VERSION, HOST_PLURAL)


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """`directory` read-only in place until the block ends (a read-only bind mount over itself)."""
    done = _mount("--bind", str(directory), str(directory))
    if done.returncode != 0:
        pytest.skip(f"cannot bind-mount {directory} here (needs root and mount(8)): {done.stderr.strip()}")
    try:
        done = _mount("-o", "remount,bind,ro", str(directory))
        assert done.returncode == 0, done.stderr
        yield
    finally:
        subprocess.run(["umount", str(directory)], capture_output=True, check=False)


def condition(obj: dict | None, type_: str) -> dict:
    found = [c for c in ((obj or {}).get("status") or {}).get("conditions", []) if c["type"] == type_]
    return found[0] if found else {}


def test_read_only_device_plugin_dir_stops_nothing_else(kubeconfig: Path, sim: Path, tmp_path: Path) -> None:
    plugin_dir, devinfo = tmp_path / "device-plugins", tmp_path / "devinfo" / "dp"
    client = KubeClient(load_config(str(kubeconfig)), user_agent="kvsriov-tests")
    with (
        FakePodResources(tmp_path / "pod-resources.sock", tmp_path / "pods.json") as pod_resources,
        StandInKubelet(plugin_dir, pod_resources) as kubelet,
    ):
        pod_resources.set_pods([])
        cmd = [
            sys.executable, "-m", "kvsriov.cli", "agent", "--node", "node-1", "--kubeconfig", str(kubeconfig),
            "--host-root", str(sim), "--pod-resources-socket", str(pod_resources.socket_path),
            "--resync", "0.3", "--device-plugin-dir", str(plugin_dir), "--devinfo-dir", str(devinfo),
        ]  # fmt: skip
        log = tmp_path / "agent.log"
        mount = read_only(plugin_dir)
        mount.__enter__()
        unmounted = False
        with log.open("ab") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        try:
            # Discovery and status go on: every PF has its SriovPhysicalNic with a status.
            nic = wait_for(
                lambda: (n := client.get_or_none(NICS, "node-1.em2"))
                and (n.get("status") or {}).get("totalVfs") and n,
                timeout=SLICE_TIMEOUT, what="node-1.em2 discovered and its status written",
            )  # fmt: skip
            assert nic["status"]["resourceName"] == "kvsriov.io/em2"
            host = wait_for(
                lambda: condition(h := client.get_or_none(HOSTS, "node-1"), "DevicePluginReady").get("status")
                == "False" and h,
                timeout=SLICE_TIMEOUT, what="SriovHost DevicePluginReady=False",
            )  # fmt: skip
            cond = condition(host, "DevicePluginReady")
            assert cond["reason"] == "CannotServe"
            assert str(plugin_dir / "kvsriov-em2.sock") in cond["message"]
            assert "Read-only file system" in cond["message"]
            assert "read-write" in cond["message"]  # what to check
            assert condition(host, "IOMMUReady")["status"] == "True"  # the probe was not held up
            # Slicing goes on too.
            client.merge_patch(NICS, "node-1.em2", {"spec": {"numVfs": 4}})
            wait_for(
                lambda: (client.get(NICS, "node-1.em2").get("status") or {}).get("numVfs") == 4,
                timeout=SLICE_TIMEOUT, what="em2 sliced into 4 VFs with the plugin directory read-only",
            )  # fmt: skip
            assert "kvsriov.io/em2" not in kubelet.endpoints
            # Writable again: the plugin serves, registers, and the condition says so.
            mount.__exit__(None, None, None)
            unmounted = True
            kubelet.wait(lambda: "kvsriov.io/em2" in kubelet.endpoints, timeout=SLICE_TIMEOUT,
                         what="em2 registered once the directory is writable")  # fmt: skip
            kubelet.wait(lambda: len(kubelet.healthy("kvsriov.io/em2")) == 4, timeout=SLICE_TIMEOUT,
                         what="em2's 4 VFs listed to the kubelet")  # fmt: skip
            wait_for(
                lambda: condition(client.get(HOSTS, "node-1"), "DevicePluginReady").get("status") == "True",
                timeout=SLICE_TIMEOUT, what="SriovHost DevicePluginReady=True",
            )  # fmt: skip
        finally:
            if not unmounted:
                mount.__exit__(None, None, None)
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            sys.stderr.write(log.read_text())
