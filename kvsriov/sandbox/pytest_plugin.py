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
* ``real_apiserver`` (session scope): a real kube-apiserver + etcd built from
  their Go modules (``hack/real-apiserver/``) with our CRDs and the third-party
  ones installed; the test is skipped, with the reason, where it cannot be built.
* ``real_scheduler`` (function scope): the real kube-scheduler (same build) running against
  ``real_apiserver`` and ready (informers synced); stopped at teardown, so tests that do not
  ask for it never see Pods bound. Skipped, with the reason, where it cannot be built.
* ``kube_backend`` (function scope): ``"emulated"`` or ``"real"``. Tests marked
  ``@pytest.mark.both_servers`` run once against each, through ``kubeconfig``;
  on the real server, what a test created is removed afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # imported lazily: the hil tier runs under TCG, where these imports cost seconds
    import kubernetes

    from kvsriov.sandbox.apiserver.server import EmulatedApiServer
    from kvsriov.sandbox.real_apiserver import RealApiServer, RealScheduler

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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_servers: run against the emulated and the real kube-apiserver")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("both_servers") and "kube_backend" in metafunc.fixturenames:
        metafunc.parametrize("kube_backend", ["emulated", "real"], indirect=True)


@pytest.fixture(scope="session")
def real_apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealApiServer]:
    """A real kube-apiserver + etcd for the session, with our CRDs and the third-party ones."""
    from kvsriov.sandbox.real_apiserver import (
        THIRD_PARTY_CRDS,
        RealApiServer,
        RealApiServerUnavailable,
        build,
        install_crds,
    )

    try:
        server = RealApiServer(build(), tmp_path_factory.mktemp("real-apiserver")).start()
    except RealApiServerUnavailable as exc:
        pytest.skip(f"real kube-apiserver unavailable: {exc}")
    try:
        install_crds(server.kubeconfig, [REPO_CRDS, THIRD_PARTY_CRDS])
        yield server
    finally:
        server.stop()


@pytest.fixture
def real_scheduler(real_apiserver: RealApiServer, tmp_path: Path) -> Iterator[RealScheduler]:
    """The real kube-scheduler against ``real_apiserver``, ready; stopped at teardown."""
    from kvsriov.sandbox.real_apiserver import RealApiServerUnavailable, RealScheduler

    try:
        scheduler = RealScheduler(real_apiserver, tmp_path / "kube-scheduler").start()
    except RealApiServerUnavailable as exc:
        pytest.skip(f"real kube-scheduler unavailable: {exc}")
    try:
        yield scheduler
    finally:
        scheduler.stop()


@pytest.fixture
def kube_backend(request: pytest.FixtureRequest) -> str:
    """Which API server ``kubeconfig`` points at: "emulated" unless parametrized by ``both_servers``."""
    return str(getattr(request, "param", "emulated"))


@pytest.fixture
def kubeconfig(kube_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """Path of a kubeconfig pointing at the emulated ``apiserver`` or at ``real_apiserver``."""
    if kube_backend == "real":
        from kvsriov.sandbox.real_apiserver import reset

        real: RealApiServer = request.getfixturevalue("real_apiserver")
        try:
            yield real.kubeconfig
        finally:
            reset(real.kubeconfig)
        return
    emulated: EmulatedApiServer = request.getfixturevalue("apiserver")
    yield emulated.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def kube_client(kubeconfig: Path) -> Iterator[kubernetes.client.ApiClient]:
    """A ``kubernetes.client.ApiClient`` for ``apiserver``; closed at teardown."""
    import kubernetes

    client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    try:
        yield client
    finally:
        client.close()
