"""Emulated API server at scale: create, list and watch 1,000 then 10,000 SriovPhysicalNics.

Prints objects per second, the time per object at 1k and at 10k and their ratio
(a ratio near 1 means a flat cost per object; a quadratic store would show ~10),
list and watch times, status patch -> watch event latency p50/p99, and the
server's peak RSS. When the real kube-apiserver + etcd can be built
(hack/real-apiserver/build.sh, needs Go), the same load runs there too and both
are printed with their ratios (RSS: kube-apiserver + etcd); otherwise it says
why the real side is missing. It asserts nothing about speed.

    .venv/bin/python benchmarks/apiserver.py [--total 10000] [--threads 8] [--emulated-only]
"""

from __future__ import annotations

import argparse
import json
import queue
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import peak_rss_mib, percentile, start_emulated
from kubernetes import client, config, watch

from kvsriov.api import GROUP, VERSION
from kvsriov.api.constants import LABEL_INTERFACE, LABEL_NODE
from kvsriov.api.kinds import NIC_KIND, NIC_PLURAL
from kvsriov.paths import PROJECT_ROOT

PLURAL = NIC_PLURAL


def nic_body(i: int) -> dict:
    node, port = f"node-{i // 4:05d}", f"em{i % 4 + 1}"
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": NIC_KIND,
        "metadata": {"name": f"{node}.{port}", "labels": {LABEL_NODE: node, LABEL_INTERFACE: port}},
        "spec": {"nodeName": node, "interface": port, "numVfs": 0},
    }


def status_patch_latencies(api: client.CustomObjectsApi, name: str, count: int) -> list[float]:
    """Seconds from sending a status patch to receiving its watch event, ``count`` times in a row."""
    events: queue.Queue[float] = queue.Queue()
    current = api.get_cluster_custom_object(GROUP, VERSION, PLURAL, name)
    stream = watch.Watch()

    def listen() -> None:
        try:
            for _ in stream.stream(
                api.list_cluster_custom_object,
                GROUP,
                VERSION,
                PLURAL,
                field_selector=f"metadata.name={name}",
                resource_version=current["metadata"]["resourceVersion"],
                timeout_seconds=120,
            ):
                events.put(time.perf_counter())
        except Exception:  # the server went away after the measurement: nothing more to time
            return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    latencies = []
    for i in range(count):
        sent = time.perf_counter()
        patch = {"status": {"pciAddress": f"0000:{i:02x}"}}
        api.patch_cluster_custom_object_status(GROUP, VERSION, PLURAL, name, patch)
        latencies.append(events.get(timeout=10) - sent)
    stream.stop()
    return latencies


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


def run_load(kubeconfig: Path, pids: list[int], args: argparse.Namespace) -> dict[str, float]:
    """The same load on one server; ``pids`` are the server's processes (RSS is their sum)."""
    configuration = client.Configuration()
    config.load_kube_config(str(kubeconfig), client_configuration=configuration)
    configuration.connection_pool_maxsize = args.threads * 2
    api_client = client.ApiClient(configuration)
    api = client.CustomObjectsApi(api_client)
    try:
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
        latencies = status_patch_latencies(api, nic_body(0)["metadata"]["name"], args.patches)
        rss = sum(peak_rss_mib(pid) for pid in pids)
    finally:
        api_client.close()
    return {
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
        "status_patch_to_event_p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
        "status_patch_to_event_p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "server_peak_rss_mib": round(rss, 1),
    }


def run_real(args: argparse.Namespace, workdir: Path) -> dict[str, float] | str:
    """The load on kube-apiserver + etcd, or why it cannot run here."""
    from kvsriov.sandbox.real_apiserver import RealApiServer, RealApiServerUnavailable, build, install_crds

    try:
        server = RealApiServer(build(), workdir).start()
    except RealApiServerUnavailable as exc:
        return str(exc)
    try:
        install_crds(server.kubeconfig, [PROJECT_ROOT / "crds"])
        return run_load(server.kubeconfig, [p.pid for p in server.processes], args)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, default=10_000)
    parser.add_argument("--first", type=int, default=1_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--patches", type=int, default=200, help="status patches timed to their watch event")
    parser.add_argument(
        "--emulated-only", action="store_true", help="do not build/run the real kube-apiserver"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        proc, kubeconfig = start_emulated(Path(tmp))
        try:
            emulated = run_load(kubeconfig, [proc.pid], args)
        finally:
            proc.terminate()
            proc.wait(10)
        real = "skipped (--emulated-only)" if args.emulated_only else run_real(args, Path(tmp) / "real")

    if isinstance(real, str):
        width = max(map(len, emulated))
        for key, value in emulated.items():
            print(f"{key:<{width}}  {value}")
        print(f"real kube-apiserver: not run: {real}")
        print(json.dumps({"emulated": emulated, "real": None, "real_missing_because": real}))
        return
    width = max(map(len, emulated))
    print(f"{'':<{width}}  {'emulated':>12}  {'real':>12}  {'emulated/real':>13}")
    ratios = {}
    for key, value in emulated.items():
        other = real[key]
        ratios[key] = round(value / other, 2) if other else float("nan")
        print(f"{key:<{width}}  {value:>12}  {other:>12}  {ratios[key]:>13}")
    print("(ratios: for rates higher is better for the emulated server; for times and RSS lower is)")
    print(json.dumps({"emulated": emulated, "real": real, "emulated_over_real": ratios}))


if __name__ == "__main__":
    main()
