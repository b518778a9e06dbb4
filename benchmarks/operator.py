"""The operator at scale on the emulated API server: resync time, change-to-NAD latency, peak RSS.

Builds 2,500 nodes x 4 PFs (10,000 SriovPhysicalNic, Virtualized), 50 L2 networks
and 1,000 L3 networks (one NAD each), then starts `kvsriov operator` as a
subprocess and prints:

* full resync: operator start to every L2 network's status current and every
  L3 network Ready with its NAD present;
* change-to-NAD latency p50/p99: patch an L3 network's range, wait (on a watch)
  for its NAD's config to show it, ~100 times one after the other;
* the operator's peak RSS (VmHWM), each next to its target. It asserts nothing.

    .venv/bin/python benchmarks/operator.py [--nodes 2500] [--l2 50] [--l3 1000] [--changes 100]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from common import peak_rss_mib, percentile, start_emulated
from kubernetes import client, config, watch

from kvsriov.api import GROUP, VERSION
from kvsriov.api.constants import LABEL_INTERFACE, LABEL_L3_NETWORK, LABEL_NODE
from kvsriov.api.kinds import L2_KIND, L2_PLURAL, L3_KIND, L3_PLURAL, NIC_KIND, NIC_PLURAL

NAD = ("k8s.cni.cncf.io", "v1", "network-attachment-definitions")
PORTS = ("em1", "em2", "em3", "em4")
SELECTOR = {"kvsriov.io/sriov": "true"}
TARGETS = {"resync_s": 30.0, "p99_s": 0.5, "rss_mib": 300.0}


def populate(custom: client.CustomObjectsApi, core: client.CoreV1Api, args: argparse.Namespace) -> None:
    def node(i: int) -> None:
        core.create_node({"metadata": {"name": f"node-{i:05d}", "labels": dict(SELECTOR)}})

    def nic(i: int) -> None:
        node_name, port = f"node-{i // 4:05d}", PORTS[i % 4]
        name = f"{node_name}.{port}"
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": NIC_KIND,
            "metadata": {"name": name, "labels": {LABEL_NODE: node_name, LABEL_INTERFACE: port}},
            "spec": {"nodeName": node_name, "interface": port, "numVfs": 8},
        }
        custom.create_cluster_custom_object(GROUP, VERSION, NIC_PLURAL, body)
        status = {"nodeName": node_name, "interface": port, "virtualization": "Virtualized", "totalVfs": 63}
        custom.patch_cluster_custom_object_status(
            GROUP, VERSION, NIC_PLURAL, name, {"status": status | {"numVfs": 8}}
        )

    def l2(i: int) -> None:
        spec = {
            "type": "Vlan",
            "vlan": 100 + i,
            "physicalInterface": PORTS[i % 4],
            "sriov": {"enabled": True},
            "nodeSelector": dict(SELECTOR),
        }
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": L2_KIND,
            "metadata": {"name": f"l2-{i:03d}"},
        }
        custom.create_cluster_custom_object(GROUP, VERSION, L2_PLURAL, body | {"spec": spec})

    def l3(i: int) -> None:
        custom.create_cluster_custom_object(GROUP, VERSION, L3_PLURAL, l3_body(i, args.l2))

    with ThreadPoolExecutor(args.threads) as pool:
        for what, fn, count in (
            ("nodes", node, args.nodes),
            ("NICs", nic, args.nodes * 4),
            ("L2 networks", l2, args.l2),
            ("L3 networks", l3, args.l3),
        ):
            start = time.perf_counter()
            list(pool.map(fn, range(count)))
            print(f"  created {count:>6} {what:<12} in {time.perf_counter() - start:6.1f} s")


def l3_body(i: int, n_l2: int, end: int = 200) -> dict[str, Any]:
    net = f"10.{i // 250}.{i % 250}"
    spec = {
        "l2Network": f"l2-{i % n_l2:03d}",
        "ipam": {
            "cidr": f"{net}.0/24",
            "ranges": [{"start": f"{net}.10", "end": f"{net}.{end}"}],
            "gateway": f"{net}.1",
            "dns": [f"{net}.1"],
        },
    }
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": L3_KIND,
        "metadata": {"name": f"l3-{i:04d}"},
        "spec": spec,
    }


def l2_current(item: dict[str, Any], args: argparse.Namespace) -> bool:
    return (item.get("status") or {}).get("effective") == f"{args.nodes}/{args.nodes}"


def l3_ready(item: dict[str, Any], args: argparse.Namespace) -> bool:
    status = item.get("status") or {}
    cond = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), {})
    return cond.get("status") == "True" and status.get("observedGeneration") == item["metadata"]["generation"]


class Convergence:
    """Watches L2 and L3 networks and NADs (one list each, then watch events), so that waiting
    for the resync costs the API server nothing but the events themselves: polling lists of
    1,000 L3 networks, 1,000 NADs and 50 L2 statuses of 2,500 node names every 0.25 s was a
    load of its own on the server and distorted the figure."""

    def __init__(self, custom: client.CustomObjectsApi, args: argparse.Namespace) -> None:
        self.args = args
        self.l2: dict[str, bool] = {}
        self.l3: dict[str, bool] = {}
        self.nads: set[str] = set()
        self.lock = threading.Lock()
        self.stopped = False
        kinds = (
            ((GROUP, VERSION, L2_PLURAL), {}, lambda o: self._set(self.l2, o, l2_current)),
            ((GROUP, VERSION, L3_PLURAL), {}, lambda o: self._set(self.l3, o, l3_ready)),
            (NAD, {"label_selector": LABEL_L3_NETWORK}, self._nad),
        )
        for what, kwargs, apply in kinds:
            threading.Thread(target=self.run, args=(custom, what, kwargs, apply), daemon=True).start()

    def _set(self, views: dict[str, bool], event: dict[str, Any], test: Any) -> None:
        obj = event["object"]
        name = obj["metadata"]["name"]
        with self.lock:
            if event["type"] == "DELETED":
                views.pop(name, None)
            else:
                views[name] = bool(test(obj, self.args))

    def _nad(self, event: dict[str, Any]) -> None:
        meta = event["object"]["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        with self.lock:
            if event["type"] == "DELETED":
                self.nads.discard(key)
            else:
                self.nads.add(key)

    def run(
        self, custom: client.CustomObjectsApi, what: tuple[str, ...], kwargs: dict[str, Any], apply: Any
    ) -> None:
        try:
            listing = custom.list_cluster_custom_object(*what, **kwargs)
            for item in listing["items"]:
                apply({"type": "ADDED", "object": item})
            rv = listing["metadata"]["resourceVersion"]
            while not self.stopped:
                for event in watch.Watch().stream(
                    custom.list_cluster_custom_object,
                    *what,
                    resource_version=rv,
                    timeout_seconds=60,
                    **kwargs,
                ):
                    if self.stopped:
                        return
                    rv = event["object"]["metadata"].get("resourceVersion", rv)
                    apply(event)
        except Exception:
            if not self.stopped:
                raise

    def converged(self) -> tuple[bool, str]:
        args = self.args
        with self.lock:
            l2_ok, ready, nads = sum(self.l2.values()), sum(self.l3.values()), len(self.nads)
        done = l2_ok == args.l2 and ready == args.l3 and nads == args.l3
        return done, f"L2 {l2_ok}/{args.l2} current, L3 {ready}/{args.l3} Ready, NADs {nads}/{args.l3}"


class NadWatch:
    """Watches the NADs; `expect(l3, end)` then `wait()` gives the time until the config shows `end`."""

    def __init__(self, custom: client.CustomObjectsApi) -> None:
        self.custom = custom
        self.expected: tuple[str, str] | None = None
        self.seen = threading.Event()
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        w = watch.Watch()
        rv = self.custom.list_cluster_custom_object(*NAD, limit=1)["metadata"]["resourceVersion"]
        for event in w.stream(
            self.custom.list_cluster_custom_object, *NAD, resource_version=rv, timeout_seconds=600
        ):
            if self.stop:
                return
            obj = event["object"]
            expected = self.expected
            if expected is None or obj["metadata"]["name"] != expected[0]:
                continue
            ranges = json.loads(obj["spec"]["config"])["ipam"]["ipRanges"]
            if ranges and ranges[0]["range_end"] == expected[1]:
                self.seen.set()


def latency(custom: client.CustomObjectsApi, args: argparse.Namespace) -> list[float]:
    nads = NadWatch(custom)
    time.sleep(0.5)  # the watch is established
    results = []
    for k in range(args.changes):
        i = (k * 7919) % args.l3
        end = 150 + k % 50
        name = f"l3-{i:04d}"
        nads.seen.clear()
        nads.expected = (name, l3_body(i, args.l2, end)["spec"]["ipam"]["ranges"][0]["end"])
        start = time.perf_counter()
        custom.patch_cluster_custom_object(
            GROUP,
            VERSION,
            L3_PLURAL,
            name,
            {"spec": {"ipam": l3_body(i, args.l2, end)["spec"]["ipam"]}},
        )
        if not nads.seen.wait(30):
            print(f"  change {k}: no NAD update within 30 s")
            continue
        results.append(time.perf_counter() - start)
    nads.stop = True
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=2500)
    parser.add_argument("--l2", type=int, default=50)
    parser.add_argument("--l3", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--verbose", action="store_true", help="debug logs in the operator log")
    parser.add_argument("--timeout", type=float, default=300, help="give up the resync after N seconds")
    parser.add_argument("--profile", help="run the operator under pyinstrument, HTML report to this file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        server, kubeconfig = start_emulated(Path(tmp))
        config.load_kube_config(str(kubeconfig))
        operator = None
        try:
            config.load_kube_config(str(kubeconfig))
            custom, core = client.CustomObjectsApi(), client.CoreV1Api()
            print(f"populating: {args.nodes} nodes x 4 PFs, {args.l2} L2 and {args.l3} L3 networks")
            populate(custom, core, args)
            command = [sys.executable, "-m", "kvsriov.cli", "operator", "--", "--kubeconfig", str(kubeconfig)]
            if args.profile:
                renderer = "html" if args.profile.endswith(".html") else "text"
                profiler = [sys.executable, "-m", "pyinstrument", "-r", renderer, "-o", args.profile]
                command = [*profiler, *command[1:]]
            log = open(Path(tempfile.gettempdir()) / "kvsriov-operator-benchmark.log", "wb")  # noqa: SIM115
            start = time.perf_counter()
            operator = subprocess.Popen(
                [*command, "--standalone", *(["--verbose"] if args.verbose else [])],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            progress, shown = "", 0.0
            convergence = Convergence(custom, args)
            while True:
                done, progress = convergence.converged()
                elapsed = time.perf_counter() - start
                if done or elapsed > args.timeout or operator.poll() is not None:
                    break
                if elapsed - shown >= 10:
                    print(f"  {elapsed:5.0f} s: {progress}", flush=True)
                    shown = elapsed
                time.sleep(0.05)
            resync = time.perf_counter() - start
            convergence.stopped = True
            print(f"resync ({progress}): {resync:7.2f} s   target < {TARGETS['resync_s']:.0f} s")
            samples = latency(custom, args)
            if samples:
                p50, p99 = statistics.median(samples), percentile(samples, 0.99)
                print(
                    f"change-to-NAD latency over {len(samples)} changes: p50 {p50 * 1000:6.1f} ms, "
                    f"p99 {p99 * 1000:6.1f} ms   target p99 < {TARGETS['p99_s'] * 1000:.0f} ms"
                )
            rss = peak_rss_mib(operator.pid)
            print(f"operator peak RSS (VmHWM): {rss:7.1f} MiB   target < {TARGETS['rss_mib']:.0f} MiB")
            print(f"API server peak RSS: {peak_rss_mib(server.pid):7.1f} MiB")
        finally:
            if operator is not None:
                operator.terminate()
                operator.wait(30)
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
