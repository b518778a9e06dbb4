"""`kvsriov agent ...`: the node agent's entry point (routed here by kvsriov/cli.py).

Only the host bundle is built here; everything below takes it as an argument.
Nothing here imports the kubernetes client or kopf: `probe` must start fast
on a small node and in the TCG test bed.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kvsriov.api.host import SriovHostStatus
from kvsriov.api.nic import SriovPhysicalNicStatus
from kvsriov.kubeletapi.paths import KUBELET_SOCKET
from kvsriov_agent.discovery import discover_nics
from kvsriov_agent.doctor import EXIT_CANNOT_CHECK, CannotCheck, check_root, status_document
from kvsriov_agent.host.bundle import real_host
from kvsriov_agent.host.pci_ids import PciIds
from kvsriov_agent.probe import probe_host
from kvsriov_agent.settings import AgentSettings, KubeletPaths

if TYPE_CHECKING:
    from kvsriov_agent.host.bundle import Host
    from kvsriov_agent.reconcile import Reconciler

DEFAULTS = AgentSettings()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kvsriov agent", description="The kvsriov node agent.")
    parser.add_argument("--node", help="this node's name: run the long-running agent for it")
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, else in-cluster)")
    parser.add_argument("--host-root", default="/", help="the host's root directory (default: /)")
    parser.add_argument(
        "--pod-resources-socket",
        default=DEFAULTS.kubelet.pod_resources,
        type=Path,
        help=f"kubelet PodResources (default: {DEFAULTS.kubelet.pod_resources})",
    )
    parser.add_argument(
        "--device-plugin-dir",
        default=DEFAULTS.kubelet.plugin_dir,
        type=Path,
        help=f"the kubelet's device plugin directory, with {KUBELET_SOCKET} "
        f"(default: {DEFAULTS.kubelet.plugin_dir})",
    )
    parser.add_argument(
        "--devinfo-dir",
        default=DEFAULTS.kubelet.devinfo_dir,
        type=Path,
        help=f"where NPWG device-information files are written (default: {DEFAULTS.kubelet.devinfo_dir})",
    )
    parser.add_argument(
        "--no-device-plugin", action="store_true", help="do not serve the kubelet device plugin API"
    )
    parser.add_argument(
        "--resync",
        type=float,
        default=DEFAULTS.resync_s,
        help=f"seconds between safety-net passes (default: {DEFAULTS.resync_s:g})",
    )
    parser.add_argument(
        "--etc-root",
        help="where /etc/modprobe.d and the boot loader configuration are (default: the host root); "
        "for hosts whose root is read-only, such as the QEMU test bed",
    )
    parser.add_argument(
        "--watch-timeout",
        type=int,
        default=DEFAULTS.watch_timeout_s,
        help=f"seconds the API server keeps each watch open before the agent resumes it "
        f"(default: {DEFAULTS.watch_timeout_s})",
    )
    parser.add_argument("--pci-ids", dest="agent_pci_ids", help="the PCI ID database (default: the system's)")
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        help="serve Prometheus metrics on this port at /metrics (default: 0, off)",
    )
    sub = parser.add_subparsers(dest="command")
    probe = sub.add_parser(
        "probe", help="print, read-only, what the agent would write to SriovHost/SriovPhysicalNic status"
    )
    probe.add_argument("--host-root", default="/", help="the host's root directory (default: /)")
    probe.add_argument("--node", dest="probe_node", help="node name (default: this host's name)")
    probe.add_argument("--pci-ids", help="the PCI ID database (default: the distribution's pci.ids)")
    probe.add_argument("-o", "--output", choices=("json", "table"), default="table")
    return parser


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ("   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows)
    return "\n".join(lines)


def render_table(node: str, host: SriovHostStatus, nics: list[SriovPhysicalNicStatus]) -> str:
    """A host summary and the NIC table, shaped like `kubectl get sriovhosts,sriovphysicalnics`."""
    ir = host.interrupt_remapping
    lines = [
        _table(
            [
                ["HOST", "IOMMU", "ENABLED", "READY", "GROUPS", "IR", "IR-SOURCE", "REBOOT"],
                [
                    node,
                    host.iommu.vendor,
                    str(host.iommu.enabled_in_kernel_args).lower(),
                    str(host.iommu.ready).lower(),
                    str(host.iommu.groups),
                    str(ir.supported).lower(),
                    ir.source,
                    str(host.reboot_required).lower(),
                ],
            ]
        ),
        "",
    ]
    lines += [f"{c.type}={c.status} ({c.reason}): {c.message}" for c in host.conditions]
    rows = [["NODE", "INTERFACE", "MODEL", "LINK", "SPEED", "STATE", "VFS"]]
    rows += [
        [
            nic.node_name or "",
            nic.interface or "",
            nic.model or "",
            nic.link,
            nic.speed or "-",
            nic.state or "",
            nic.vfs_summary or "",
        ]
        for nic in nics
    ]
    return "\n".join([*lines, "", _table(rows)])


def _probe(args: argparse.Namespace) -> int:
    node = args.probe_node or args.node or socket.gethostname()
    pci_ids = PciIds(Path(args.pci_ids)) if args.pci_ids else None
    try:
        check_root(Path(args.host_root))
    except CannotCheck as exc:
        print(f"kvsriov agent probe: could not check: {exc}", file=sys.stderr)
        return EXIT_CANNOT_CHECK
    host = real_host(Path(args.host_root), pci_ids=pci_ids)
    host_status = probe_host(host)
    nics = discover_nics(host, node)
    if args.output == "json":
        print(json.dumps(status_document(host_status, nics), indent=2))
    else:
        print(render_table(node, host_status, nics))
    return 0


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.command == "probe":
        return _probe(args)
    if not args.node:
        print("kvsriov agent: --node NAME is required (or use `kvsriov agent probe`)", file=sys.stderr)
        return 2
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    """Build the pieces once, here, and hand them down: nothing below reads globals or the environment."""
    import logging

    from kvsriov_agent.kube.client import KubeClient
    from kvsriov_agent.kube.config import ConfigError, load_config
    from kvsriov_agent.kube.events import EventRecorder
    from kvsriov_agent.podresources import PodResourcesClient
    from kvsriov_agent.reconcile import Reconciler
    from kvsriov_agent.runtime import Agent

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        client = KubeClient(load_config(args.kubeconfig))
    except ConfigError as err:
        print(f"kvsriov agent: {err}", file=sys.stderr)
        return 2
    pci_ids = PciIds(Path(args.agent_pci_ids)) if args.agent_pci_ids else None
    etc_root = Path(args.etc_root) if args.etc_root else None
    host = real_host(Path(args.host_root), pci_ids=pci_ids, etc_root=etc_root)
    settings = settings_of(args)
    reconciler = Reconciler(
        client=client,
        host=host,
        node=args.node,
        events=EventRecorder(client, "kvsriov-agent", args.node),
        pod_resources=PodResourcesClient(settings.kubelet.pod_resources, settings.pod_resources_timeout_s),
    )
    # Link events describe the kernel the agent runs on: only meaningful when that is the host.
    agent = Agent(
        reconciler,
        settings,
        watch_netlink=Path(args.host_root).resolve() == Path("/"),
    )
    if args.metrics_port:
        from kvsriov_agent.metrics import AgentMetrics

        reconciler.metrics = AgentMetrics(args.node)
        reconciler.metrics.serve(args.metrics_port)
    if not args.no_device_plugin:
        _start_device_plugins(settings, host, reconciler, lambda: agent.wakeups.put("kubelet"))
    try:
        agent.run()
    except KeyboardInterrupt:
        agent.stopped.set()
    return 0


def settings_of(args: argparse.Namespace) -> AgentSettings:
    """The flags, as the one settings object everything below is given."""
    return AgentSettings(
        resync_s=args.resync,
        watch_timeout_s=args.watch_timeout,
        kubelet=KubeletPaths(
            plugin_dir=args.device_plugin_dir,
            pod_resources=args.pod_resources_socket,
            devinfo_dir=args.devinfo_dir,
        ),
    )


def _start_device_plugins(
    settings: AgentSettings, host: Host, reconciler: Reconciler, wakeup: Callable[[], None]
) -> None:
    """The kubelet device plugins (issue 6): the reconcile pass feeds them, allocation changes wake it."""
    from kvsriov_agent.deviceplugin.manager import DevicePlugins

    plugins = DevicePlugins(host, settings.kubelet, reconciler.pod_resources, settings.plugins, wakeup=wakeup)
    reconciler.plugins = plugins
    plugins.start()
