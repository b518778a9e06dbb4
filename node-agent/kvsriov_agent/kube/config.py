"""Where the API server is and who we are: a kubeconfig file or the pod's service account.

Only what a node agent needs: bearer token, client certificate, CA, and
`insecure-skip-tls-verify` (plain http needs nothing). Exec plugins and
auth providers are out of scope: a DaemonSet runs with its service account.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Where the kubelet mounts the service account (the in-cluster contract).
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class ConfigError(RuntimeError):
    """No usable configuration: the message says what is missing."""


@dataclass(frozen=True)
class KubeConfig:
    server: str
    token: str | None = None
    token_file: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False

    def bearer(self) -> str | None:
        """The token, re-read from its file each time: projected service-account tokens rotate."""
        if self.token_file:
            try:
                return Path(self.token_file).read_text().strip()
            except OSError:
                return self.token
        return self.token

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.server.startswith("https://"):
            return None
        ctx = ssl.create_default_context(cafile=self.ca_file)
        if self.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.cert_file:
            ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


def _materialize(entry: dict[str, Any], file_key: str, data_key: str) -> str | None:
    """ssl wants files; kubeconfigs often embed base64 data instead: write it to a private temp file."""
    if entry.get(file_key):
        return str(entry[file_key])
    data = entry.get(data_key)
    if not data:
        return None
    fd, name = tempfile.mkstemp(prefix="kvsriov-kube-")
    with os.fdopen(fd, "wb") as out:
        out.write(base64.b64decode(data))
    return name


def _named(items: list[dict[str, Any]], name: str, what: str) -> dict[str, Any]:
    for item in items or []:
        if item.get("name") == name:
            return dict(item.get(what) or {})
    raise ConfigError(f"kubeconfig has no {what} named {name!r}")


def from_kubeconfig(path: Path, context: str | None = None) -> KubeConfig:
    import yaml  # here, not at the top: in a cluster the agent never reads a kubeconfig

    doc = yaml.safe_load(path.read_text()) or {}
    ctx_name = context or doc.get("current-context")
    if not ctx_name:
        raise ConfigError(f"{path}: no current-context")
    ctx = _named(doc.get("contexts", []), ctx_name, "context")
    cluster = _named(doc.get("clusters", []), ctx["cluster"], "cluster")
    user = _named(doc.get("users", []), ctx["user"], "user") if ctx.get("user") else {}
    return KubeConfig(
        server=str(cluster["server"]).rstrip("/"),
        token=user.get("token"),
        token_file=user.get("tokenFile"),
        ca_file=_materialize(cluster, "certificate-authority", "certificate-authority-data"),
        cert_file=_materialize(user, "client-certificate", "client-certificate-data"),
        key_file=_materialize(user, "client-key", "client-key-data"),
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
    )


def in_cluster(sa_dir: Path = SERVICE_ACCOUNT_DIR) -> KubeConfig:
    """The kubelet injects KUBERNETES_SERVICE_HOST/PORT and mounts token + CA into every pod."""
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host or not (sa_dir / "token").exists():
        raise ConfigError("not in a cluster: KUBERNETES_SERVICE_HOST or the service-account token is missing")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return KubeConfig(
        server=f"https://{host}:{port}", token_file=str(sa_dir / "token"), ca_file=str(sa_dir / "ca.crt")
    )


def load_config(kubeconfig: str | None = None) -> KubeConfig:
    """--kubeconfig, else $KUBECONFIG, else the service account, else ~/.kube/config."""
    path = kubeconfig or os.environ.get("KUBECONFIG")
    if path:
        return from_kubeconfig(Path(path))
    try:
        return in_cluster()
    except ConfigError:
        default = Path.home() / ".kube" / "config"
        if default.exists():
            return from_kubeconfig(default)
        raise
