"""The device plugin's speed and the agent's idle footprint, on the simulated host. Prints, never asserts.

Set-up: the emulated API server (in this process), the FUSE simulated host (reference
fixture: em1 = 82599ES, 63 VFs), the kubelet stand-in and a PodResources fake, and the
real agent process (`kvsriov agent`, default resync of 300 s so that idle means idle).

- Allocate: p50/p99 over N calls (default 10,000) of one-device Allocate over the real
  unix-socket gRPC, as the kubelet calls it (each call also writes the NPWG file); baseline,
  interleaved with it on the same channel: GetDevicePluginOptions, the cheapest call the
  plugin serves, so the ratio is what Allocate's own work adds to a gRPC round trip.
- ListAndWatch update latency: from the PATCH of spec.numVfs to the stand-in receiving the
  new list (end to end: watch event, reconcile pass, slicing in the simulated kernel, push);
  and the push alone (ResourcePlugin.update -> stand-in), in this process.
- Idle: the agent's RSS (VmRSS) and CPU share over a quiet window, plugins registered and
  ListAndWatch streams open; baseline: the same agent on the same host with
  --no-device-plugin, so the ratio is what serving the kubelet costs.

Targets (issue 6): Allocate p99 < 5 ms; agent RSS < 60 MiB; idle CPU < 0.5 %.

    .venv/bin/python benchmarks/deviceplugin.py [--calls 10000] [--reslices 6] [--idle 20]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("GRPC_VERBOSITY", "ERROR")  # not grpc's INFO lines about closed streams
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
EM1 = "kvsriov.io/em1"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def push_latency(tmp: Path, count: int) -> list[float]:
    """ResourcePlugin.update -> the stand-in's ListAndWatch receives it, in this process."""
    from kvsriov.sandbox.kubelet.deviceplugins import StandInKubelet
    from kvsriov_agent.deviceplugin.devices import Device
    from kvsriov_agent.deviceplugin.plugin import ResourcePlugin

    plugin_dir = tmp / "push"
    out: list[float] = []
    with StandInKubelet(plugin_dir) as kubelet:
        plugin = ResourcePlugin("kvsriov.io/bench", plugin_dir, tmp / "push-devinfo", lambda ids: None)
        plugin.serve()
        plugin.register(plugin_dir / "kubelet.sock")
        for i in range(count):
            n = 1 + i % 8
            table = {f"0000:03:10.{k}": Device(f"0000:03:10.{k}", "em1", "0000:03:00.0", k, 0, str(k), True)
                     for k in range(n)}  # fmt: skip
            start = time.perf_counter()
            plugin.update(table, "vfio-pci")
            kubelet.wait(lambda n=n: len(kubelet.devices("kvsriov.io/bench")) == n, 10, "push")
            out.append(time.perf_counter() - start)
        plugin.stop()
    return out


def idle_footprint(pid: int, seconds: float) -> tuple[float, float]:
    """(RSS MiB, CPU %) of `pid` over `seconds` of nothing happening."""
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return rss_mib(pid), (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0) * 100


def stop(agent: subprocess.Popen[bytes]) -> None:
    agent.terminate()
    agent.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--reslices", type=int, default=6)
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of the idle window")
    args = parser.parse_args()

    from kvsriov.api.constants import GROUP, VERSION
    from kvsriov.api.kinds import NIC_PLURAL
    from kvsriov.kubeletapi.deviceplugin.v1beta1 import api_pb2 as pb
    from kvsriov.sandbox.apiserver.server import EmulatedApiServer
    from kvsriov.sandbox.host.simhost import fuse_unavailable, mount_sim_host
    from kvsriov.sandbox.kubelet.deviceplugins import StandInKubelet
    from kvsriov.sandbox.kubelet.podresources import FakePodResources
    from kvsriov.sandbox.wait import wait_for
    from kvsriov_agent.kube import KubeClient, ResourcePath, load_config

    if (why := fuse_unavailable()) is not None:
        print(f"skipped: {why}")
        return
    nics = ResourcePath(GROUP, VERSION, NIC_PLURAL)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        push = push_latency(tmp, 200)
        with (
            EmulatedApiServer(crd_dirs=[PROJECT / "crds"]) as api,
            mount_sim_host(tmp / "host") as sim,
            FakePodResources(tmp / "pr.sock", tmp / "pods.json") as pods,
            StandInKubelet(tmp / "dp", pods) as kubelet,
        ):
            pods.set_pods([])
            kubeconfig = api.write_kubeconfig(tmp / "kubeconfig")
            client = KubeClient(load_config(str(kubeconfig)), user_agent="kvsriov-bench")
            cmd = [sys.executable, "-m", "kvsriov.cli", "agent", "--node", "node-1",
                   "--kubeconfig", str(kubeconfig), "--host-root", str(sim),
                   "--pod-resources-socket", str(pods.socket_path),
                   "--device-plugin-dir", str(tmp / "dp"), "--devinfo-dir", str(tmp / "devinfo"),
                   "--metrics-port", str(free_port())]  # fmt: skip  (as the DaemonSet runs it)
            log = (tmp / "agent.log").open("wb")
            agent = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
            try:
                wait_for(lambda: client.get_or_none(nics, "node-1.em1"), timeout=60, what="em1 adopted")
                kubelet.wait(lambda: EM1 in kubelet.endpoints, 60, "em1 registered")
                update: list[float] = []
                for i in range(args.reslices + 1):
                    n = 8 if i % 2 == 0 else 4
                    start = time.perf_counter()
                    client.merge_patch(nics, "node-1.em1", {"spec": {"numVfs": n}})
                    kubelet.wait(
                        lambda n=n: len(kubelet.healthy(EM1)) == n == len(kubelet.devices(EM1)), 60, "list"
                    )
                    if i:  # the first slicing from 0 also creates the first VFs: not a re-slice
                        update.append(time.perf_counter() - start)
                wait_for(
                    lambda: (client.get(nics, "node-1.em1").get("status") or {}).get("numVfs") == 8,
                    timeout=60, what="status",
                )  # fmt: skip
                ids = kubelet.healthy(EM1)
                stub, empty = kubelet.endpoints[EM1].stub, pb.Empty()
                allocate: list[float] = []
                options: list[float] = []
                for i in range(args.calls):
                    start = time.perf_counter()
                    kubelet.allocate(EM1, [ids[i % len(ids)]])
                    allocate.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    stub.GetDevicePluginOptions(empty, timeout=10)
                    options.append(time.perf_counter() - start)
                # Idle: let the allocation poll find nothing allocated (no pod holds them), then measure.
                wait_for(
                    lambda: not list((tmp / "devinfo").glob("*.json")), timeout=120, what="devinfo reaped"
                )
                rss, idle_cpu = idle_footprint(agent.pid, args.idle)
                stop(agent)
                offset = (tmp / "agent.log").stat().st_size
                agent = subprocess.Popen([*cmd, "--no-device-plugin"], stdout=log, stderr=subprocess.STDOUT)
                wait_for(
                    lambda: b"pass complete" in (tmp / "agent.log").read_bytes()[offset:],
                    timeout=60, what="the baseline agent's first pass",
                )  # fmt: skip
                base_rss, base_cpu = idle_footprint(agent.pid, args.idle)
            finally:
                stop(agent)
                log.close()
    ms = 1000.0
    print(f"Allocate ({args.calls} calls, 1 device, real gRPC): p50 {pct(allocate, .5) * ms:.2f} ms, "
          f"p99 {pct(allocate, .99) * ms:.2f} ms  (target p99 < 5 ms)")  # fmt: skip
    print(f"  baseline GetDevicePluginOptions, same channel: p50 {pct(options, .5) * ms:.2f} ms, "
          f"p99 {pct(options, .99) * ms:.2f} ms; ratio p50 {pct(allocate, .5) / pct(options, .5):.2f}, "
          f"p99 {pct(allocate, .99) / pct(options, .99):.2f}")  # fmt: skip
    print(f"ListAndWatch update after re-slicing 8<->4 ({len(update)}x, PATCH -> new list at the kubelet): "
          f"median {statistics.median(update) * ms:.0f} ms, max {max(update) * ms:.0f} ms")  # fmt: skip
    print(f"ListAndWatch push alone (update -> kubelet, 200x): p50 {pct(push, .5) * ms:.2f} ms, "
          f"p99 {pct(push, .99) * ms:.2f} ms")  # fmt: skip
    print(
        f"agent idle: RSS {rss:.1f} MiB (target < 60), "
        f"CPU {idle_cpu:.2f} % over {args.idle:g} s (target < 0.5)"
    )
    print(
        f"  baseline agent --no-device-plugin, same host: RSS {base_rss:.1f} MiB, CPU {base_cpu:.2f} %; "
        f"ratio RSS {rss / base_rss:.2f} (+{rss - base_rss:.1f} MiB for the plugins)"
    )


if __name__ == "__main__":
    main()
