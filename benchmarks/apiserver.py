"""Emulated API server at scale: create, list and watch 1,000 then 10,000 SriovPhysicalNics.

Prints objects per second, the time per object at 1k and at 10k and their ratio
(a ratio near 1 means a flat cost per object; a quadratic store would show ~10),
list and watch times, and the server's peak RSS. It asserts nothing about speed.

    .venv/bin/python benchmarks/apiserver.py [--total 10000] [--threads 8]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kubernetes import client, config, watch

from kvsriov.api import GROUP, VERSION
from kvsriov.api.constants import LABEL_INTERFACE, LABEL_NODE

PLURAL = "sriovphysicalnics"


def nic_body(i: int) -> dict:
    node, port = f"node-{i // 4:05d}", f"em{i % 4 + 1}"
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SriovPhysicalNic",
        "metadata": {"name": f"{node}.{port}", "labels": {LABEL_NODE: node, LABEL_INTERFACE: port}},
        "spec": {"nodeName": node, "interface": port, "numVfs": 0},
    }


def start_server(workdir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    kubeconfig = workdir / "kubeconfig"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kvsriov.cli", "apiserver", "--kubeconfig-out", str(kubeconfig)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if kubeconfig.exists() and kubeconfig.stat().st_size:
            try:
                config.load_kube_config(str(kubeconfig))
                client.VersionApi().get_code()
                return proc, kubeconfig
            except Exception:  # not up yet
                pass
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("the emulated API server did not start within 30 s")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def create(api: client.CustomObjectsApi, indexes: range, threads: int) -> float:
    def one(i: int) -> None:
        api.create_cluster_custom_object(GROUP, VERSION, PLURAL, nic_body(i))

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, indexes))
    return time.perf_counter() - start


def watch_all(api: client.CustomObjectsApi, expected: int) -> float:
    start = time.perf_counter()
    stream = watch.Watch()
    events = stream.stream(
        api.list_cluster_custom_object, GROUP, VERSION, PLURAL, resource_version="0", timeout_seconds=120
    )
    for seen, _ in enumerate(events, start=1):
        if seen >= expected:
            stream.stop()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, default=10_000)
    parser.add_argument("--first", type=int, default=1_000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        proc, _ = start_server(Path(tmp))
        try:
            api = client.CustomObjectsApi()
            t_first = create(api, range(args.first), args.threads)
            t_rest = create(api, range(args.first, args.total), args.threads)
            per_first = t_first / args.first * 1000
            per_rest = t_rest / (args.total - args.first) * 1000
            t0 = time.perf_counter()
            listed = api.list_cluster_custom_object(GROUP, VERSION, PLURAL)
            t_list = time.perf_counter() - t0
            t0 = time.perf_counter()
            selector = f"{LABEL_NODE}=node-00042"
            selected = api.list_cluster_custom_object(GROUP, VERSION, PLURAL, label_selector=selector)
            t_selected = time.perf_counter() - t0
            t_watch = watch_all(api, args.total)
            rss = peak_rss_mib(proc.pid)
        finally:
            proc.terminate()
            proc.wait(10)

    results = {
        "created": args.total,
        "create_objects_per_s_first": round(args.first / t_first, 1),
        "create_objects_per_s_rest": round((args.total - args.first) / t_rest, 1),
        f"ms_per_object_at_{args.first}": round(per_first, 3),
        f"ms_per_object_up_to_{args.total}": round(per_rest, 3),
        "ratio_10k_over_1k": round(per_rest / per_first, 2),
        "list_all_s": round(t_list, 3),
        "list_all_items": len(listed["items"]),
        "label_selected_list_s": round(t_selected, 4),
        "label_selected_items": len(selected["items"]),
        "watch_from_0_all_events_s": round(t_watch, 3),
        "server_peak_rss_mib": round(rss, 1),
    }
    width = max(map(len, results))
    for key, value in results.items():
        print(f"{key:<{width}}  {value}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
