"""Fixtures for the emulated API server's tests: the Widget test CRD and API objects."""

from __future__ import annotations

from pathlib import Path

import kubernetes
import pytest
from apiserver_helpers import DATA

from kvsriov.sandbox.real_apiserver import RealApiServer, install_crds


@pytest.fixture
def crd_dirs() -> list[Path]:
    """Install the Widget test CRD (tests/sandbox/data) in the emulated API server."""
    return [DATA]


@pytest.fixture(scope="session")
def real_apiserver(real_apiserver: RealApiServer) -> RealApiServer:
    """The plugin's real kube-apiserver, with the Widget test CRD installed as well."""
    install_crds(real_apiserver.kubeconfig, [DATA])
    return real_apiserver


@pytest.fixture
def custom(kube_client: kubernetes.client.ApiClient) -> kubernetes.client.CustomObjectsApi:
    """CustomObjectsApi on the emulated API server."""
    return kubernetes.client.CustomObjectsApi(kube_client)


@pytest.fixture
def core(kube_client: kubernetes.client.ApiClient) -> kubernetes.client.CoreV1Api:
    """CoreV1Api on the emulated API server."""
    return kubernetes.client.CoreV1Api(kube_client)
