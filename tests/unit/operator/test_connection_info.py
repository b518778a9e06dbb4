"""kopf logs in with the credentials of the kubernetes client the handlers use (settings.connection_info).

Both loaders of the official client, unchanged: a kubeconfig with a token, and the in-cluster
service account (token file the kubelet mounts). An operator that logged in as anonymous
would be refused everything by an RBAC-enabled API server.
"""

from __future__ import annotations

from pathlib import Path

import kubernetes
import yaml
from kubernetes.config.incluster_config import InClusterConfigLoader

from kvsriov_operator.settings import connection_info


def test_kubeconfig_token_reaches_kopf(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "c",
                "clusters": [
                    {
                        "name": "c",
                        "cluster": {"server": "https://10.0.0.1:6443", "insecure-skip-tls-verify": True},
                    }
                ],
                "users": [{"name": "u", "user": {"token": "s3cret"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    info = connection_info(kubernetes.config.new_client_from_config(config_file=str(kubeconfig)))
    assert (info.server, info.scheme, info.token) == ("https://10.0.0.1:6443", "Bearer", "s3cret")


def test_in_cluster_token_reaches_kopf(tmp_path: Path) -> None:
    token, ca = tmp_path / "token", tmp_path / "ca.crt"
    token.write_text("first")
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    configuration = kubernetes.client.Configuration()
    loader = InClusterConfigLoader(
        token_filename=str(token),
        cert_filename=str(ca),
        environ={"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"},
    )
    loader.load_and_set(configuration)
    api = kubernetes.client.ApiClient(configuration)
    info = connection_info(api)
    assert (info.server, info.scheme.lower(), info.token, info.ca_path) == (
        "https://10.96.0.1:443",
        "bearer",
        "first",
        str(ca),
    )
