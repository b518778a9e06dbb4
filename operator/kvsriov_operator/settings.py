"""The operator's one startup handler: kopf's settings plus our own knobs.

Every default is justified where it is set (STYLE §1, after kopf's
`_cogs/configs/configuration.py`). Clients (clients.py) and knobs travel in kopf's `memo`,
never in module globals, so tests run several operators side by side.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import kopf
import kubernetes

from kvsriov.api.constants import GROUP
from kvsriov.kubevirt.vfrequests import Ours
from kvsriov_operator import tls
from kvsriov_operator.cache import ClusterCache

WebhookMode = Literal["self-signed", "cert-manager", "none"]


@dataclass(frozen=True)
class WebhookOptions:
    """kopf's admission webhook server and where its certificate comes from."""

    mode: WebhookMode = "none"
    """`self-signed`: a CA and certificate made at start (sandbox, simple clusters);
    `cert-manager`: files of a mounted TLS Secret (in-cluster); `none`: no webhooks, the
    operator still reports broken rules as conditions."""

    addr: str = "0.0.0.0"
    """Listen on every interface: in a pod the API server reaches us through the Service."""

    port: int = 9443
    """Above 1024, so the container needs no privilege; the Service maps 443 to it."""

    host: str | None = None
    """The name the API server dials (the Service DNS name, or 127.0.0.1 in the sandbox);
    it goes into the webhook URL and the self-signed certificate's SANs."""

    cert_dir: Path = Path("/etc/kvsriov/webhook-tls")
    """Where the cert-manager Secret is mounted (tls.crt, tls.key, ca.crt)."""

    configuration: str = "validate.kvsriov.io"
    """The ValidatingWebhookConfiguration kopf creates and keeps current (settings.admission.managed)."""


@dataclass(frozen=True)
class Knobs:
    """What the operator does beyond kopf's own settings."""

    finalizer: str = f"{GROUP}/network-attachment-definitions"
    """Blocks deletion of an L3 network until its NADs are removed: nothing is orphaned.
    Named after what it guards, so `kubectl get -o yaml` tells a stuck user why."""

    peering_name: str | None = None
    """The kopf peering object shared by the replicas, so that only the highest-priority one acts;
    None (the default) runs standalone. Peering is opt-in because it needs kopf's peering CRD and
    an object of it, and without them kopf waits forever without a word (cli.check_peering)."""

    watch_server_timeout: int = 300
    """Seconds the API server keeps a watch open; reconnecting more often only adds load."""

    watch_client_timeout: int = 330
    """A little above the server timeout, so a silently dead connection is still noticed."""

    posting_level: int = logging.WARNING
    """Only warnings (refusals) and our explicit events become Kubernetes Events: per-handler
    INFO events would double the API writes of a full resync of thousands of objects."""

    annotation_prefix: str = GROUP
    """kopf's progress and last-handled state live in annotations under our group (not in status,
    which the L2/L3 models own and the schema would prune)."""

    webhook: WebhookOptions = field(default_factory=WebhookOptions)
    """The admission webhooks (off unless asked for: tests of reconciling run without them)."""

    vf_requests: Ours = "kvsriov"
    """Who adds the VF requests to launcher pods where KubeVirt does not (kvsriov/vfrequests.py):
    kvsriov's own webhook by default, so a default KubeVirt 1.9 cluster works; or
    network-resources-injector, where the cluster runs it, and then no webhook of ours."""

    @property
    def injects_vf_requests(self) -> bool:
        """The launcher-pod webhook is served (handlers/launcher.py)."""
        return self.vf_requests == "kvsriov" and self.webhook.mode != "none"


def knobs_of(memo: Any) -> Knobs:
    """The knobs in `memo.clients` (clients.Clients, built by the CLI or a test), else the defaults.

    Looked up by attribute: the bag of clients holds these knobs, so this module cannot import it.
    """
    knobs = getattr(getattr(memo, "clients", None), "knobs", None)
    return knobs if isinstance(knobs, Knobs) else Knobs()


def connection_info(api: kubernetes.client.ApiClient) -> kopf.ConnectionInfo:
    """kopf's credentials from the same kubernetes client configuration the handlers use.

    kopf calls this again when the API server answers 401, so the in-cluster loader's refresh
    hook runs first: the kubelet rotates the projected service-account token in place.
    """
    cfg = api.configuration
    if cfg.refresh_api_key_hook is not None:
        cfg.refresh_api_key_hook(cfg)
    # The client keeps "Bearer <token>" under "BearerToken" (kubernetes >= 35) or "authorization".
    header = cfg.api_key.get("BearerToken") or cfg.api_key.get("authorization") or ""
    scheme, _, token = header.partition(" ")
    return kopf.ConnectionInfo(
        server=cfg.host,
        ca_path=cfg.ssl_ca_cert,
        insecure=not cfg.verify_ssl,
        scheme=scheme or None,
        token=token or None,
        certificate_path=cfg.cert_file,
        private_key_path=cfg.key_file,
    )


#: The "From" of our Events in `kubectl describe` (kopf's default would say "kopf").
REPORTING_COMPONENT = "kvsriov-operator"


@kopf.on.login()
def login(memo: kopf.Memo, **_: Any) -> kopf.ConnectionInfo:
    return connection_info(memo.clients.api)


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    knobs = knobs_of(memo)
    settings.posting.level = knobs.posting_level
    settings.posting.reporting_component = REPORTING_COMPONENT
    settings.watching.server_timeout = knobs.watch_server_timeout
    settings.watching.client_timeout = knobs.watch_client_timeout
    settings.persistence.finalizer = knobs.finalizer
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=knobs.annotation_prefix)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=knobs.annotation_prefix, key="last-handled-configuration"
    )
    if knobs.peering_name is not None:
        settings.peering.name = knobs.peering_name
        settings.peering.clusterwide = True
    if knobs.webhook.mode == "none":
        settings.admission.server = no_webhook_server
    else:
        settings.admission.server = webhook_server(knobs.webhook, memo)
        settings.admission.managed = knobs.webhook.configuration


@kopf.on.startup()
async def start_cache(memo: kopf.Memo, **_: Any) -> None:
    """List and watch NICs, Nodes, L2 and L3 networks (cache.py); the workers wait until all are listed."""
    memo.clients.start_cache()


async def no_webhook_server(fn: Any) -> AsyncIterator[Any]:
    """`--webhook-server none`: kopf refuses to start with validating handlers and no server, so
    this server (kopf's server/tunnel protocol) serves nothing and registers no configuration."""
    await asyncio.Event().wait()
    yield {}  # never reached


def webhook_server(options: WebhookOptions, memo: Any) -> kopf.WebhookServer:
    """kopf's HTTPS server with our certificate; kopf puts the CA into the caBundle it registers."""
    host = options.host or "127.0.0.1"
    if options.mode == "self-signed":
        directory = Path(tempfile.mkdtemp(prefix="kvsriov-webhook-"))
        memo.webhook_tls_dir = directory  # removed by `cleanup` below
        files = tls.self_signed(directory, [host, "localhost", "127.0.0.1"])
    else:
        files = tls.from_secret_dir(options.cert_dir)
    return kopf.WebhookServer(
        addr=options.addr,
        port=options.port,
        host=host,
        cafile=str(files.ca),
        certfile=str(files.cert),
        pkeyfile=str(files.key),
    )


@kopf.on.cleanup()
def cleanup(memo: kopf.Memo, **_: Any) -> None:
    cache = getattr(getattr(memo, "clients", None), "cache", None)
    if isinstance(cache, ClusterCache):
        cache.stop()
    directory = getattr(memo, "webhook_tls_dir", None)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)
