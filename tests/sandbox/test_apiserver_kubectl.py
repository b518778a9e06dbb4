"""kubectl against the emulated and the real API server, unchanged (discovery, OpenAPI, apply, get)."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml
from apiserver_helpers import GROUP, PLURAL, VERSION, widget

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"

pytestmark = [
    pytest.mark.kubectl,
    pytest.mark.both_servers,
    pytest.mark.skipif(
        not Path(KUBECTL).exists(), reason="kubectl is not installed (/usr/bin/kubectl absent)"
    ),
]


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path):
    """Run kubectl against the server of ``kubeconfig``; returns the CompletedProcess."""

    def run(*args: str, manifest: dict | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [KUBECTL, "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp_path / "cache"), *args]
        if manifest is not None:
            path = tmp_path / "manifest.yaml"
            path.write_text(yaml.safe_dump(manifest))
            cmd += ["-f", str(path)]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result

    return run


def test_api_resources_lists_builtin_and_custom_kinds(kubectl):
    out = kubectl("api-resources").stdout
    for resource in ("widgets", "pods", "network-attachment-definitions", "virtualmachines", "leases"):
        assert resource in out


def test_client_side_apply_creates_then_updates(kubectl, custom):
    assert "created" in kubectl("apply", manifest=widget("a", size=1)).stdout
    assert "configured" in kubectl("apply", manifest=widget("a", size=2)).stdout
    assert custom.get_cluster_custom_object(GROUP, VERSION, PLURAL, "a")["spec"]["size"] == 2


def test_server_side_apply_creates_then_updates(kubectl, custom):
    assert (
        "serverside-applied"
        in kubectl("apply", "--server-side", manifest=widget("a", size=1, note="hello")).stdout
    )
    kubectl("apply", "--server-side", manifest=widget("a", size=4))
    obj = custom.get_cluster_custom_object(GROUP, VERSION, PLURAL, "a")
    assert obj["spec"]["size"] == 4 and "note" not in obj["spec"]


def test_apply_builtin_configmap(kubectl, core):
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "default"},
        "data": {"k": "v1"},
    }
    kubectl("apply", manifest=cm)
    cm["data"]["k"] = "v2"
    kubectl("apply", manifest=cm)
    assert core.read_namespaced_config_map("c", "default").data == {"k": "v2"}


def test_get_shows_printer_columns(kubectl, custom):
    custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, widget("a", size=3, mode="Vlan", vlan=9))
    custom.patch_cluster_custom_object_status(GROUP, VERSION, PLURAL, "a", {"status": {"phase": "Ready"}})
    lines = kubectl("get", "widgets").stdout.splitlines()
    assert lines[0].split() == ["NAME", "SIZE", "MODE", "PHASE", "READY", "AGE"]
    assert lines[1].split()[:4] == ["a", "3", "Vlan", "Ready"]
    wide = kubectl("get", "widgets", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "SIZE", "MODE", "PHASE", "READY", "VLAN", "AGE"]


def test_get_json_output(kubectl, custom):
    custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, widget("a", size=3))
    obj = json.loads(kubectl("get", "widget", "a", "-o", "json").stdout)
    assert obj["spec"]["size"] == 3


def test_describe_works(kubectl, custom, core):
    created = custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, widget("a", size=3))
    core.create_namespaced_event(
        "default",
        {
            "metadata": {"name": "a.1"},
            "reason": "Tested",
            "message": "hello from the test",
            "type": "Normal",
            "involvedObject": {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "Widget",
                "name": "a",
                "uid": created["metadata"]["uid"],
            },
        },
    )
    out = kubectl("describe", "widget", "a").stdout
    assert "Name:" in out and "a" in out and "Size:" in out
    assert "hello from the test" in out


def test_apply_with_unknown_field_is_refused(kubectl):
    result = kubectl("apply", manifest=widget("a", size=1, foo="x"), check=False)
    assert result.returncode != 0
    assert 'unknown field "spec.foo"' in result.stderr


def test_replace_with_stale_resource_version_conflicts(kubectl, custom):
    stale = custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, widget("a", size=1))
    custom.patch_cluster_custom_object(GROUP, VERSION, PLURAL, "a", {"spec": {"size": 2}})
    stale["spec"]["size"] = 3
    result = kubectl("replace", manifest=stale, check=False)
    assert result.returncode != 0
    assert "the object has been modified" in result.stderr


def test_delete(kubectl, custom):
    custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, widget("a", size=1))
    assert "deleted" in kubectl("delete", "widget", "a").stdout
    assert "No resources found" in kubectl("get", "widgets").stderr


def test_kubectl_create_namespace_configmap_and_secret(kubectl, core):
    """kubectl's typed clients send these in protobuf, not JSON (the server must decode it)."""
    namespace = f"kubectl-{uuid.uuid4().hex[:8]}"
    try:
        assert f"namespace/{namespace} created" in kubectl("create", "namespace", namespace).stdout
        assert core.read_namespace(namespace).status.phase == "Active"
        kubectl("create", "configmap", "settings", "-n", namespace, "--from-literal=mtu=9000")
        assert core.read_namespaced_config_map("settings", namespace).data == {"mtu": "9000"}
        kubectl("create", "secret", "generic", "token", "-n", namespace, "--from-literal=key=s3cret")
        assert core.read_namespaced_secret("token", namespace).data == {"key": "czNjcmV0"}
        refused = kubectl("create", "namespace", "Not.A.Label", check=False)
        assert refused.returncode != 0 and "a lowercase RFC 1123 label" in refused.stderr
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)
