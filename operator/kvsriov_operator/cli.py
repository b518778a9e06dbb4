"""`kvsriov operator`: run the kopf operator against a cluster (kubeconfig or in-cluster)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
import threading
from pathlib import Path

import kopf
import kubernetes

from kvsriov_operator.clients import Clients
from kvsriov_operator.registry import run_registry
from kvsriov_operator.settings import Knobs, WebhookOptions

LOG = logging.getLogger("kvsriov.operator")
#: kopf's cluster-wide peering resource (kopf/_cogs/structs/references.py CLUSTER_PEERINGS_K/P).
PEERING_GROUP, PEERING_VERSION, PEERING_PLURAL = "kopf.dev", "v1", "clusterkopfpeerings"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kvsriov operator", description="Run the kvsriov operator (kopf).")
    parser.add_argument(
        "--kubeconfig", help="kubeconfig file (default: in-cluster, else $KUBECONFIG/~/.kube)"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--standalone",
        dest="peering",
        action="store_const",
        const=None,
        help="no peering, act at once (the default): run one replica (the manifests use Recreate)",
    )
    mode.add_argument(
        "--peering",
        metavar="NAME",
        default=Knobs.peering_name,
        help="act only while the highest-priority replica of kopf's ClusterKopfPeering NAME "
        "(needs kopf's peering CRD and that object; checked at start)",
    )
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        help="serve Prometheus metrics on this port at /metrics (default: 0, off)",
    )
    parser.add_argument(
        "--liveness",
        metavar="URL",
        help="serve kopf's liveness probe here, e.g. http://0.0.0.0:8080/healthz (default: none)",
    )
    hooks = parser.add_argument_group("admission webhooks (README: Admission webhooks and certificates)")
    hooks.add_argument(
        "--webhook-server",
        choices=["self-signed", "cert-manager", "none"],
        default="none",
        help="serve the validating webhooks with a certificate made at start (self-signed), "
        "from a mounted cert-manager Secret (cert-manager), or not at all (none)",
    )
    hooks.add_argument("--webhook-host", help="name the API server dials: the Service DNS name or an IP")
    hooks.add_argument("--webhook-port", type=int, default=WebhookOptions.port)
    hooks.add_argument("--webhook-addr", default=WebhookOptions.addr, help="listen address")
    hooks.add_argument(
        "--webhook-cert-dir", type=Path, default=WebhookOptions.cert_dir, help="tls.crt/tls.key/ca.crt"
    )
    hooks.add_argument(
        "--vf-requests",
        choices=["kvsriov", "network-resources-injector"],
        default=Knobs.vf_requests,
        help="who adds the VF requests to virt-launcher pods where KubeVirt does not (KubeVirt >= 1.9): "
        "kvsriov's launcher-pod webhook (default) or network-resources-injector (README: VMs)",
    )
    return parser


def api_client(kubeconfig: str | None) -> kubernetes.client.ApiClient:
    """A client from --kubeconfig, else the in-cluster service account, else the default kubeconfig."""
    if kubeconfig:
        return kubernetes.config.new_client_from_config(config_file=kubeconfig)
    configuration = kubernetes.client.Configuration()
    try:
        kubernetes.config.load_incluster_config(client_configuration=configuration)
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config(client_configuration=configuration)
    return kubernetes.client.ApiClient(configuration)


class StartupRefused(RuntimeError):
    """The operator cannot do its job as asked; the message says what to change."""


def check_peering(api: kubernetes.client.ApiClient, name: str) -> None:
    """Refuse to start when `--peering NAME` cannot work: kopf would log in and then wait for the
    peering object forever, rendering nothing and saying nothing."""
    custom = kubernetes.client.CustomObjectsApi(api)
    try:
        custom.get_cluster_custom_object(PEERING_GROUP, PEERING_VERSION, PEERING_PLURAL, name)
    except kubernetes.client.ApiException as exc:
        if exc.status != 404:
            raise
        raise StartupRefused(
            f"--peering {name}: there is no ClusterKopfPeering {name!r} ({PEERING_PLURAL}.{PEERING_GROUP}"
            f" missing, or no object of that name), and kopf would wait for it without acting. "
            f"Create kopf's peering CRD and the object (https://kopf.readthedocs.io/en/stable/peering/), "
            f"or run without --peering (standalone, one replica)"
        ) from None


def run(
    clients: Clients,
    ready_flag: threading.Event | None = None,
    stop_flag: threading.Event | None = None,
    liveness: str | None = None,
) -> None:
    """Run the operator until `stop_flag` (or a signal, when in the main thread): cluster-wide,
    standalone unless the knobs name a peering."""
    peering = clients.knobs.peering_name
    if peering is not None:
        check_peering(clients.api, peering)
    LOG.info(
        "kvsriov operator: %s",
        f"peering {peering!r}: acting while the highest-priority replica"
        if peering
        else "standalone (no peering): acting at once; run one replica",
    )
    asyncio.run(
        kopf.operator(
            clusterwide=True,
            standalone=peering is None,
            peering_name=peering,
            memo=kopf.Memo(clients=clients),
            registry=run_registry(clients.knobs),
            ready_flag=ready_flag,
            stop_flag=stop_flag,
            liveness_endpoint=liveness,
        )
    )


def main(argv: list[str]) -> int:
    # `kvsriov operator -- --help`: argparse.REMAINDER in the parent parser keeps the `--`.
    args = build_parser().parse_args(argv[1:] if argv[:1] == ["--"] else argv)
    kopf.configure(verbose=args.verbose)
    webhook = WebhookOptions(
        mode=args.webhook_server,
        addr=args.webhook_addr,
        port=args.webhook_port,
        host=args.webhook_host,
        cert_dir=args.webhook_cert_dir,
    )
    knobs = dataclasses.replace(
        Knobs(), peering_name=args.peering, webhook=webhook, vf_requests=args.vf_requests
    )
    clients = Clients(api=api_client(args.kubeconfig), knobs=knobs)
    if args.metrics_port:
        clients.metrics.serve(args.metrics_port)
    try:
        run(clients, liveness=args.liveness)
    except StartupRefused as exc:
        print(f"kvsriov operator: {exc}", file=sys.stderr)
        return 2
    return 0
