"""The real kube-apiserver reports the release it was built from (hack/real-apiserver/build.sh
stamps it as Kubernetes' own build does), so kubectl can parse it; a module build left
"v0.0.0-master+$Format:%H$", which kubectl refused ("could not parse pre-release/metadata")."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from kvsriov.paths import PROJECT_ROOT
from kvsriov.sandbox.real_apiserver import RealApiServer


def pinned_release() -> str:
    """The k8s.io/kubernetes version hack/real-apiserver/go.mod pins."""
    go_mod = (PROJECT_ROOT / "hack/real-apiserver/go.mod").read_text()
    found = re.search(r"^\tk8s\.io/kubernetes (v[0-9.]+)$", go_mod, re.MULTILINE)
    assert found, "go.mod pins no k8s.io/kubernetes"
    return found.group(1)


def test_kubectl_reads_the_pinned_release_from_the_real_server(real_apiserver: RealApiServer) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    done = subprocess.run(
        [kubectl, "--kubeconfig", str(real_apiserver.kubeconfig), "version", "-o", "json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "could not parse" not in done.stderr
    server = json.loads(done.stdout)["serverVersion"]
    release = pinned_release()
    assert server["gitVersion"] == release
    assert (server["major"], server["minor"]) == tuple(release.lstrip("v").split(".")[:2])
