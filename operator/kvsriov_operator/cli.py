"""`kvsriov operator`: run the kopf operator against a cluster (kubeconfig or in-cluster)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import threading
from pathlib import Path

import kopf
import kubernetes

from kvsriov_operator.settings import Clients, Knobs, WebhookOptions


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kvsriov operator", description="Run the kvsriov operator (kopf).")
    parser.add_argument(
        "--kubeconfig", help="kubeconfig file (default: in-cluster, else $KUBECONFIG/~/.kube)"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--standalone", action="store_true", help="no peering: act even if other replicas run")
    mode.add_argument("--peering", default=Knobs.peering_name, help="ClusterKopfPeering name (one active)")
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


def run(
    clients: Clients,
    standalone: bool = False,
    ready_flag: threading.Event | None = None,
    stop_flag: threading.Event | None = None,
    liveness: str | None = None,
) -> None:
    """Run the operator until `stop_flag` (or a signal, when in the main thread): cluster-wide."""
    import kvsriov_operator.handlers  # noqa: F401  (registers the handlers)

    asyncio.run(
        kopf.operator(
            clusterwide=True,
            standalone=standalone,
            peering_name=None if standalone else clients.knobs.peering_name,
            memo=kopf.Memo(clients=clients),
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
    knobs = dataclasses.replace(Knobs(), peering_name=args.peering, webhook=webhook)
    clients = Clients(api=api_client(args.kubeconfig), knobs=knobs)
    if args.metrics_port:
        clients.metrics.serve(args.metrics_port)
    run(clients, standalone=args.standalone, liveness=args.liveness)
    return 0
