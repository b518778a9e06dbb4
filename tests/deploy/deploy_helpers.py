"""Rendering the kustomize trees and talking to an API server as a given service account."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from kvsriov.paths import PROJECT_ROOT

KUSTOMIZE = PROJECT_ROOT / "deploy" / "kustomize"
NAMESPACE = "kvsriov-system"


def kubectl_missing() -> str | None:
    return None if shutil.which("kubectl") else "kubectl is not installed (CI installs it; see .ci/run)"


def kubectl(
    kubeconfig: Path | None, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    base = ["kubectl", *(["--kubeconfig", str(kubeconfig)] if kubeconfig else [])]
    return subprocess.run(
        [*base, *args], input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def render(tree: str) -> list[dict[str, Any]]:
    """`kubectl kustomize deploy/kustomize/<tree>` as objects."""
    done = kubectl(None, "kustomize", str(KUSTOMIZE / tree))
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def token_kubeconfig(admin: Path, token: str, path: Path) -> Path:
    """`admin`'s cluster with `token` as the user: what a pod with that token sees."""
    config = yaml.safe_load(admin.read_text())
    for user in config["users"]:
        user["user"] = {"token": token}
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def create_token(admin: Path, service_account: str, *bound_to_pod: str) -> str:
    """A token for the service account, bound to a pod (name) when given, as the kubelet asks for one."""
    bound = ["--bound-object-kind", "Pod", "--bound-object-name", bound_to_pod[0]] if bound_to_pod else []
    done = kubectl(admin, "create", "token", service_account, "-n", NAMESPACE, "--duration", "1h", *bound)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


HELM_CHART = PROJECT_ROOT / "deploy" / "helm" / "kvsriov"
HELM_BUILD = PROJECT_ROOT / "hack" / "helm" / "build.sh"
#: `helm template` has no cluster to ask: the version of the real kube-apiserver the tests run, and
#: the APIs of the prerequisites the chart looks for (Multus, whereabouts, KubeVirt).
KUBE = (
    "--kube-version", "1.34.4",
    "--api-versions", "k8s.cni.cncf.io/v1",
    "--api-versions", "whereabouts.cni.cncf.io/v1alpha1",
    "--api-versions", "kubevirt.io/v1",
)  # fmt: skip


def helm_binary() -> Path | str:
    """The helm CLI built by hack/helm/build.sh, or why there is none."""
    done = subprocess.run(
        ["bash", str(HELM_BUILD)], capture_output=True, text=True, timeout=1800, check=False
    )
    if done.returncode != 0:
        return f"helm cannot be built here: {done.stderr.strip()[-400:]}"
    return Path(done.stdout.strip().splitlines()[-1]) / "helm"


def helm_template(helm: Path, *values: str) -> list[dict[str, Any]]:
    """`helm template kvsriov deploy/helm/kvsriov -n kvsriov-system --include-crds [--set ...]`."""
    sets = [arg for value in values for arg in ("--set", value)]
    done = subprocess.run(
        [str(helm), "template", "kvsriov", str(HELM_CHART), "-n", NAMESPACE, "--include-crds", *KUBE, *sets],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]
