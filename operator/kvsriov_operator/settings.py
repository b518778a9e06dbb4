"""The operator's one startup handler: kopf's settings plus our own knobs.

Every default is justified where it is set (STYLE §1, after kopf's
`_cogs/configs/configuration.py`). Clients and knobs travel in kopf's `memo`,
never in module globals, so tests run several operators side by side.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import kopf
import kubernetes

from kvsriov.api.constants import GROUP


@dataclass(frozen=True)
class Knobs:
    """What the operator does beyond kopf's own settings."""

    finalizer: str = f"{GROUP}/network-attachment-definitions"
    """Blocks deletion of an L3 network until its NADs are removed: nothing is orphaned.
    Named after what it guards, so `kubectl get -o yaml` tells a stuck user why."""

    peering_name: str = "kvsriov"
    """The kopf peering object shared by the replicas: only the highest-priority one acts."""

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


@dataclass
class Clients:
    """API clients shared by the handlers (built by the CLI or by a test, held in `memo`)."""

    api: kubernetes.client.ApiClient
    knobs: Knobs = field(default_factory=Knobs)

    @property
    def custom(self) -> kubernetes.client.CustomObjectsApi:
        return kubernetes.client.CustomObjectsApi(self.api)

    @property
    def core(self) -> kubernetes.client.CoreV1Api:
        return kubernetes.client.CoreV1Api(self.api)


def knobs_of(memo: Any) -> Knobs:
    clients = getattr(memo, "clients", None)
    return clients.knobs if isinstance(clients, Clients) else Knobs()


def connection_info(api: kubernetes.client.ApiClient) -> kopf.ConnectionInfo:
    """kopf's credentials from the same kubernetes client configuration the handlers use."""
    cfg = api.configuration
    scheme, _, token = (cfg.api_key.get("authorization") or "").partition(" ")
    return kopf.ConnectionInfo(
        server=cfg.host,
        ca_path=cfg.ssl_ca_cert,
        insecure=not cfg.verify_ssl,
        scheme=scheme or None,
        token=token or None,
        certificate_path=cfg.cert_file,
        private_key_path=cfg.key_file,
    )


@kopf.on.login()
def login(memo: kopf.Memo, **_: Any) -> kopf.ConnectionInfo:
    return connection_info(memo.clients.api)


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    knobs = knobs_of(memo)
    settings.posting.level = knobs.posting_level
    settings.watching.server_timeout = knobs.watch_server_timeout
    settings.watching.client_timeout = knobs.watch_client_timeout
    settings.persistence.finalizer = knobs.finalizer
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=knobs.annotation_prefix)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=knobs.annotation_prefix, key="last-handled-configuration"
    )
    settings.peering.name = knobs.peering_name
    settings.peering.clusterwide = True
