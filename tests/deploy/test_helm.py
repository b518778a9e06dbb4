"""The Helm chart (deploy/helm/kvsriov) against the kustomize base: one product, two ways to install it.

With default values the chart must render the objects of deploy/kustomize/base (the Namespace
aside: Helm installs into the release namespace), field for field apart from labels; its values
switch the same things the kustomize component does. helm is built from its Go module
(hack/helm/build.sh); without it these tests are skipped with the reason.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from deploy_helpers import HELM_CHART, KUBE, find, helm_binary, helm_template, kubectl_missing, render

pytestmark = pytest.mark.skipif(kubectl_missing() is not None, reason=str(kubectl_missing()))


@pytest.fixture(scope="module")
def helm() -> Iterator[Path]:
    found = helm_binary()
    if isinstance(found, str):
        pytest.skip(found)
    yield found


def comparable(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(kind, name) -> the object without labels and annotations (Helm and kustomize add their own)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for obj in objects:
        meta = {k: v for k, v in obj["metadata"].items() if k not in ("labels", "annotations")}
        out[(obj["kind"], meta["name"])] = {**obj, "metadata": meta}
    return out


def first_difference(a: Any, b: Any, path: str = "") -> str:
    """Where two rendered objects first differ, for a failure message a person can act on."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return first_difference(a.get(key), b.get(key), f"{path}.{key}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return first_difference(x, y, f"{path}[{i}]")
    return f"{path}: chart {a!r} != kustomize {b!r}"


def test_chart_lints(helm: Path) -> None:
    done = subprocess.run([str(helm), "lint", str(HELM_CHART)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_default_values_render_the_kustomize_base(helm: Path) -> None:
    chart = comparable(helm_template(helm))
    base = comparable([o for o in render("base") if o["kind"] != "Namespace"])
    assert sorted(chart) == sorted(base)
    for key in base:
        assert chart[key] == base[key], (key, first_difference(chart[key], base[key]))


def test_host_config_value_matches_the_kustomize_component(helm: Path) -> None:
    chart = find(helm_template(helm, "agent.hostConfig=true"), "DaemonSet", "kvsriov-agent")
    overlay = find(render("overlays/host-config"), "DaemonSet", "kvsriov-agent")
    assert chart["spec"] == overlay["spec"], first_difference(chart["spec"], overlay["spec"])


def test_vf_requests_value_matches_the_network_resources_injector_overlay(helm: Path) -> None:
    """Both leave the launcher pods' VF requests to network-resources-injector; the operator reads
    the last --vf-requests (the overlay appends one, the chart replaces the value)."""
    chart = find(
        helm_template(helm, "operator.vfRequests=network-resources-injector"),
        "Deployment",
        "kvsriov-operator",
    )
    overlay = find(render("overlays/network-resources-injector"), "Deployment", "kvsriov-operator")

    def last_vf_requests(deployment: dict[str, Any]) -> str:
        args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        return [a for a in args if a.startswith("--vf-requests=")][-1]

    assert last_vf_requests(chart) == last_vf_requests(overlay) == "--vf-requests=network-resources-injector"
    assert (
        last_vf_requests(find(helm_template(helm), "Deployment", "kvsriov-operator"))
        == "--vf-requests=kvsriov"
    )


def test_cert_manager_mode_mounts_the_secret_and_says_so(helm: Path) -> None:
    objects = helm_template(
        helm, "operator.webhook.mode=cert-manager", "operator.webhook.certSecret=kvsriov-webhook-tls"
    )
    pod = find(objects, "Deployment", "kvsriov-operator")["spec"]["template"]["spec"]
    assert "--webhook-server=cert-manager" in pod["containers"][0]["args"]
    assert {"name": "webhook-tls", "secret": {"secretName": "kvsriov-webhook-tls"}} in pod["volumes"]


def test_release_namespace_reaches_every_reference(helm: Path) -> None:
    done = subprocess.run(
        [str(helm), "template", "kvsriov", str(HELM_CHART), "-n", "sriov", *KUBE],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "kvsriov-system" not in done.stdout
    assert "--webhook-host=kvsriov-operator.sriov.svc" in done.stdout


def test_missing_prerequisites_refuse_the_install_by_name(helm: Path) -> None:
    def template(*args: str) -> subprocess.CompletedProcess[str]:
        command = [str(helm), "template", "kvsriov", str(HELM_CHART), "-n", "kvsriov-system", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    no_multus = ("--api-versions", "whereabouts.cni.cncf.io/v1alpha1", "--api-versions", "kubevirt.io/v1")
    refused = template("--kube-version", "1.34.4", *no_multus)
    assert refused.returncode != 0
    needs = "kvsriov needs Multus (NetworkAttachmentDefinition), but this cluster does not serve"
    assert f"{needs} k8s.cni.cncf.io/v1" in refused.stderr
    opted_out = template("--kube-version", "1.34.4", "--set", "prerequisites.check=false")
    assert opted_out.returncode == 0, opted_out.stderr
