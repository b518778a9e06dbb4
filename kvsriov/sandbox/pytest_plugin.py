"""Pytest fixtures for tests against the emulated API server.

Enable with ``pytest_plugins = ["kvsriov.sandbox.pytest_plugin"]`` in a
conftest. Fixtures:

* ``crd_dirs`` (function scope): extra directories of CRD YAML to install;
  empty by default, override it in a test module or conftest.
* ``apiserver`` (function scope): a started :class:`EmulatedApiServer` with
  the repository's ``crds/`` directory (when present) plus ``crd_dirs``;
  stopped at teardown. Each test gets a fresh, empty cluster.
* ``kubeconfig`` (function scope): path of a kubeconfig for ``apiserver``,
  written under ``tmp_path``.
* ``kube_client`` (function scope): a ``kubernetes.client.ApiClient``
  configured from ``kubeconfig``; closed at teardown.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # imported lazily: the hil tier runs under TCG, where these imports cost seconds
    import kubernetes

    from kvsriov.sandbox.apiserver.server import EmulatedApiServer

REPO_CRDS = Path(__file__).resolve().parents[2] / "crds"


@pytest.fixture
def crd_dirs() -> list[Path]:
    """Extra CRD directories for ``apiserver`` (none by default; override to add yours)."""
    return []


@pytest.fixture
def apiserver(crd_dirs: list[Path]) -> Iterator[EmulatedApiServer]:
    """A running emulated API server with the project's CRDs and ``crd_dirs`` installed."""
    from kvsriov.sandbox.apiserver.server import EmulatedApiServer

    dirs = ([REPO_CRDS] if REPO_CRDS.is_dir() else []) + list(crd_dirs)
    with EmulatedApiServer(crd_dirs=dirs) as server:
        yield server


@pytest.fixture
def kubeconfig(apiserver: EmulatedApiServer, tmp_path: Path) -> Path:
    """Path of a kubeconfig pointing at ``apiserver``."""
    return apiserver.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def kube_client(kubeconfig: Path) -> Iterator[kubernetes.client.ApiClient]:
    """A ``kubernetes.client.ApiClient`` for ``apiserver``; closed at teardown."""
    import kubernetes

    client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    try:
        yield client
    finally:
        client.close()
