"""What `kubectl kustomize` makes of deploy/kustomize: the privileges each part asks for.

These read the rendered objects, the way a reviewer of a cluster's GitOps repository would:
the agent's host access, the operator's confinement, and RBAC that leaves every spec to users.
The same objects are applied to a real kube-apiserver in test_install_real_apiserver.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from deploy_helpers import NAMESPACE, find, kubectl_missing, render

from kvsriov.paths import crds_dir

pytestmark = pytest.mark.skipif(kubectl_missing() is not None, reason=str(kubectl_missing()))

AGENT_HOST_PATHS = {
    "/dev/vfio",
    "/var/lib/kubelet/device-plugins",
    "/var/lib/kubelet/pod-resources",
    "/var/run/k8s.cni.cncf.io/devinfo/dp",
}


def host_paths(daemonset: dict[str, Any]) -> set[str]:
    return {
        v["hostPath"]["path"] for v in daemonset["spec"]["template"]["spec"]["volumes"] if "hostPath" in v
    }


def rules(objects: list[dict[str, Any]], role: str) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in find(objects, "ClusterRole", role)["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_base_holds_the_crds_the_operator_and_the_agent() -> None:
    objects = render("base")
    crds = {o["metadata"]["name"] for o in objects if o["kind"] == "CustomResourceDefinition"}
    assert crds == {f"{p.stem.split('_', 1)[1]}.kvsriov.io" for p in crds_dir().glob("kvsriov.io_*.yaml")}
    find(objects, "Deployment", "kvsriov-operator")
    find(objects, "DaemonSet", "kvsriov-agent")
    find(objects, "ValidatingAdmissionPolicyBinding", "kvsriov-agent-own-node")
    namespaced = [o for o in objects if o["metadata"].get("namespace")]
    # Only the agent's Event permission lives elsewhere: Events about cluster-scoped objects go to default.
    assert {
        (o["kind"], o["metadata"]["namespace"]) for o in namespaced if o["metadata"]["namespace"] != NAMESPACE
    } == {
        ("Role", "default"),
        ("RoleBinding", "default"),
    }


def test_agent_shares_only_what_it_needs_of_the_host() -> None:
    agent = find(render("base"), "DaemonSet", "kvsriov-agent")
    pod = agent["spec"]["template"]["spec"]
    assert host_paths(agent) == AGENT_HOST_PATHS
    assert pod["hostNetwork"] is True  # PFs live in the host's network namespace
    assert not pod.get("hostPID") and not pod.get("hostIPC")
    [container] = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["args"][:3] == ["agent", "--node", "$(NODE_NAME)"]
    assert "--metrics-port=9479" in container["args"]
    assert container["env"][0]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    assert container["resources"]["limits"]["memory"]


def test_host_config_component_adds_exactly_the_etc_directories() -> None:
    base = find(render("base"), "DaemonSet", "kvsriov-agent")
    with_config = find(render("overlays/host-config"), "DaemonSet", "kvsriov-agent")
    assert host_paths(with_config) - host_paths(base) == {"/etc/default", "/etc/modprobe.d"}
    assert "--etc-root=/host" in with_config["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--etc-root=/host" not in base["spec"]["template"]["spec"]["containers"][0]["args"]


def test_operator_runs_unprivileged() -> None:
    operator = find(render("base"), "Deployment", "kvsriov-operator")
    pod = operator["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    [container] = pod["containers"]
    context = container["securityContext"]
    assert context["allowPrivilegeEscalation"] is False and context["readOnlyRootFilesystem"] is True
    assert context["capabilities"]["drop"] == ["ALL"]
    assert not any("hostPath" in v for v in pod.get("volumes", []))
    assert operator["spec"]["replicas"] == 1 and operator["spec"]["strategy"]["type"] == "Recreate"


def test_rbac_leaves_every_spec_to_users() -> None:
    objects = render("base")
    agent, operator = rules(objects, "kvsriov-agent"), rules(objects, "kvsriov-operator")
    # The agent creates its node's objects and writes their status; it never edits or deletes them.
    for resource in ("sriovhosts", "sriovphysicalnics"):
        assert {v for g, r, v in agent if g == "kvsriov.io" and r == resource} == {
            "get",
            "list",
            "watch",
            "create",
        }
        assert {v for g, r, v in agent if r == f"{resource}/status"} == {"get", "patch"}
        assert not {v for g, r, v in operator if r in (resource, f"{resource}/status")} - {
            "get",
            "list",
            "watch",
        }
    assert not any(r == "secrets" for _, r, _ in agent | operator)
    assert not any(v in ("*", "escalate", "bind", "impersonate") for _, _, v in agent | operator)
