"""deploy/kustomize on a real kube-apiserver (RBAC on, ValidatingAdmissionPolicy on): it installs,
each node agent can write only its own node's objects, and the agent and the operator do their
whole jobs with nothing but the permissions the manifests grant.

No kubelet runs here: Node and Pod objects are created by hand, so that the API server can bind
a service-account token to "the agent pod on node-1" exactly as it does for the kubelet's
projected token (the node's name then travels in the token, and the policy reads it).
Skipped, with the reason, where kubectl is missing or kube-apiserver cannot be built.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
import yaml
from deploy_helpers import KUSTOMIZE, NAMESPACE, create_token, kubectl, kubectl_missing, token_kubeconfig

from kvsriov.paths import samples_dir
from kvsriov.sandbox.real_apiserver import RealApiServer, free_port, reset
from kvsriov.sandbox.wait import wait_for

pytestmark = pytest.mark.skipif(kubectl_missing() is not None, reason=str(kubectl_missing()))

OWN_NODE_ONLY = "may change only its own node's objects"
START_TIMEOUT_S = 60.0
WEBHOOKS = "validate.kvsriov.io"


def apply(kubeconfig: Path, manifest: str) -> subprocess.CompletedProcess[str]:
    return kubectl(kubeconfig, "apply", "--server-side", "-f", "-", stdin=manifest)


def create(kubeconfig: Path, manifest: str) -> subprocess.CompletedProcess[str]:
    """POST, as the agent creates its objects (apply would PATCH, which RBAC does not grant it)."""
    return kubectl(kubeconfig, "create", "-f", "-", stdin=manifest)


def node_and_agent_pod(admin: Path, node: str) -> str:
    """A Node and, on it, a pod running as kvsriov-agent (never started: no kubelet); its name."""
    pod = f"kvsriov-agent-{node}"
    manifest = yaml.safe_dump_all(
        [
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": node, "labels": {"kvsriov.io/sriov": "true"}},
            },
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": pod, "namespace": NAMESPACE},
                "spec": {
                    "nodeName": node,
                    "serviceAccountName": "kvsriov-agent",
                    "containers": [{"name": "agent", "image": "kvsriov"}],
                },
            },
        ]
    )
    done = apply(admin, manifest)
    assert done.returncode == 0, done.stderr
    return pod


def start_agent(
    node: str, kubeconfig: Path, host_root: Path, socket: Path, out: IO[bytes]
) -> subprocess.Popen[bytes]:
    """`kvsriov agent` for `node` with `kubeconfig`'s credentials (the device plugin off: no kubelet)."""
    cmd = [sys.executable, "-m", "kvsriov.cli", "agent", "--node", node, "--resync", "0.3",
           "--kubeconfig", str(kubeconfig), "--host-root", str(host_root),
           "--pod-resources-socket", str(socket), "--no-device-plugin"]  # fmt: skip
    return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=30)


def assert_never_forbidden(log: Path) -> None:
    """No request of the process was refused by RBAC or the policy while it did its job."""
    text = log.read_text()
    assert "forbidden" not in text.lower(), text  # not "403": log timestamps have milliseconds


def host(node: str) -> str:
    return yaml.safe_dump(
        {"apiVersion": "kvsriov.io/v1alpha1", "kind": "SriovHost", "metadata": {"name": node}}
    )


def nic(node: str, interface: str, *, name: str | None = None, label: str | None = None) -> str:
    """node's NIC object as its agent creates it; `name` and `label` (kvsriov.io/node) may lie."""
    return yaml.safe_dump(
        {
            "apiVersion": "kvsriov.io/v1alpha1",
            "kind": "SriovPhysicalNic",
            "metadata": {
                "name": name or f"{node}.{interface}",
                "labels": {"kvsriov.io/node": label or node, "kvsriov.io/interface": interface},
            },
            "spec": {"nodeName": node, "interface": interface, "numVfs": 0},
        }
    )


@pytest.fixture(scope="module")
def installed(real_apiserver: RealApiServer) -> Iterator[Path]:
    """The base applied as a cluster admin would; the admin kubeconfig."""
    admin = real_apiserver.kubeconfig
    done = kubectl(admin, "apply", "--server-side", "--force-conflicts", "-k", str(KUSTOMIZE / "base"))
    assert done.returncode == 0, done.stderr
    try:
        yield admin
    finally:
        kubectl(
            admin,
            "delete",
            "validatingadmissionpolicybinding,validatingadmissionpolicy",
            "kvsriov-agent-own-node",
            "kvsriov-agent-own-events",
        )
        kubectl(admin, "delete", "pods", "--all", "-n", NAMESPACE, "--grace-period=0", "--force")
        reset(admin)


@pytest.fixture
def cluster(installed: Path) -> Iterator[Path]:
    try:
        yield installed
    finally:
        kubectl(installed, "delete", "pods", "--all", "-n", NAMESPACE, "--grace-period=0", "--force")
        reset(installed)


def test_base_and_overlay_are_accepted_without_warnings(installed: Path) -> None:
    for tree in ("base", "overlays/host-config"):
        done = kubectl(
            installed,
            "apply",
            "--server-side",
            "--force-conflicts",
            "--dry-run=server",
            "-k",
            str(KUSTOMIZE / tree),
        )
        assert done.returncode == 0, done.stderr
        assert "Warning" not in done.stderr, done.stderr


def test_agent_writes_only_its_own_nodes_objects(cluster: Path, tmp_path: Path) -> None:
    admin = cluster
    agent_1 = token_kubeconfig(
        admin, create_token(admin, "kvsriov-agent", node_and_agent_pod(admin, "node-1")), tmp_path / "a1"
    )
    node_and_agent_pod(admin, "node-2")

    assert create(agent_1, host("node-1")).returncode == 0
    assert create(agent_1, nic("node-1", "em1")).returncode == 0
    refused = create(agent_1, host("node-2"))
    assert refused.returncode != 0 and OWN_NODE_ONLY in refused.stderr and "node-2" in refused.stderr, (
        refused.stderr
    )
    refused = create(agent_1, nic("node-2", "em1"))
    assert refused.returncode != 0 and OWN_NODE_ONLY in refused.stderr, refused.stderr

    # Status: its own NIC's, yes; another node's, no, even though RBAC alone would allow it.
    assert apply(admin, nic("node-2", "em1")).returncode == 0
    status = [
        "patch",
        "sriovphysicalnic",
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"totalVfs":7}}',
    ]
    allowed = kubectl(agent_1, *status[:2], "node-1.em1", *status[2:])
    assert allowed.returncode == 0, allowed.stderr
    refused = kubectl(agent_1, *status[:2], "node-2.em1", *status[2:])
    assert refused.returncode != 0 and OWN_NODE_ONLY in refused.stderr, refused.stderr

    # Spec is the user's: RBAC refuses the agent any edit or deletion, whatever the node.
    refused = kubectl(
        agent_1, "patch", "sriovphysicalnic", "node-1.em1", "--type=merge", "-p", '{"spec":{"numVfs":4}}'
    )
    assert refused.returncode != 0 and 'cannot patch resource "sriovphysicalnics"' in refused.stderr, (
        refused.stderr
    )
    refused = kubectl(agent_1, "delete", "sriovphysicalnic", "node-1.em1")
    assert refused.returncode != 0 and "cannot delete" in refused.stderr, refused.stderr


def test_one_nodes_token_cannot_shut_another_node_out(cluster: Path, tmp_path: Path) -> None:
    """node-1's token may not make objects that node-2's agent would watch or adopt and then could
    never write: an object labelled for node-2, or one holding node-2's name."""
    admin = cluster
    pods = {node: node_and_agent_pod(admin, node) for node in ("node-1", "node-2")}
    agent_1, agent_2 = (
        token_kubeconfig(admin, create_token(admin, "kvsriov-agent", pods[n]), tmp_path / n) for n in pods
    )
    refused = create(agent_1, nic("node-1", "em9", label="node-2"))
    assert refused.returncode != 0 and "labelled kvsriov.io/node: node-1" in refused.stderr, refused.stderr
    refused = create(agent_1, nic("node-1", "em1", name="node-2.em1"))
    assert refused.returncode != 0 and "whose names start with node-1." in refused.stderr, refused.stderr
    assert kubectl(admin, "get", "sriovphysicalnics", "-o", "name").stdout == ""

    # node-2's agent creates and describes its em1, as if node-1 had never tried.
    done = create(agent_2, nic("node-2", "em1"))
    assert done.returncode == 0, done.stderr
    patch = ["--subresource=status", "--type=merge", "-p", '{"status":{"totalVfs":7}}']
    done = kubectl(agent_2, "patch", "sriovphysicalnic", "node-2.em1", *patch)
    assert done.returncode == 0, done.stderr


def test_the_agent_leaves_objects_of_other_nodes_alone(cluster: Path, tmp_path: Path) -> None:
    """Objects node-2's agent watches but may not write, made before the policy held name and label
    too (or by hand): the agent adopts and writes neither, and nothing it does is refused."""
    from kvsriov.sandbox.host.tree import reference_host
    from kvsriov.sandbox.kubelet.podresources import FakePodResources

    admin = cluster
    agent = token_kubeconfig(
        admin, create_token(admin, "kvsriov-agent", node_and_agent_pod(admin, "node-2")), tmp_path / "a2"
    )
    # What node-1's token could create while the policy checked only spec.nodeName.
    for planted in (
        nic("node-1", "em1", name="node-2.em1", label="node-2"),
        nic("node-1", "em9", label="node-2"),
    ):
        assert create(admin, planted).returncode == 0
    tree = reference_host(tmp_path / "host")
    log = tmp_path / "agent.log"
    with (
        FakePodResources(tmp_path / "pr.sock", tmp_path / "pods.json") as pods,
        log.open("wb") as out,
    ):
        pods.set_pods([])
        process = start_agent("node-2", agent, tree.root, pods.socket_path, out)
        try:
            wait_for(
                lambda: "observedGeneration" in kubectl(admin, "get", "sriovphysicalnic", "node-2.em2",
                                                        "-o", "jsonpath={.status}").stdout,
                timeout=START_TIMEOUT_S, what="node-2.em2 created and described by node-2's agent",
            )  # fmt: skip
            wait_for(
                lambda: log.read_text().count("pass complete: 0 writes") >= 2,
                timeout=START_TIMEOUT_S, what="two passes of node-2's agent that wrote nothing",
            )  # fmt: skip
        finally:
            stop(process)
    assert_never_forbidden(log)
    for name in ("node-2.em1", "node-1.em9"):
        assert kubectl(admin, "get", "sriovphysicalnic", name, "-o", "jsonpath={.status}").stdout == ""
    assert "node-2.em1 is not node node-2's NIC object" in log.read_text()


def event(name: str, node: str, about: str) -> str:
    """An Event in `default` about NIC `about`, written as the agent of `node` writes its Events."""
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": "default"},
            "involvedObject": {
                "apiVersion": "kvsriov.io/v1alpha1",
                "kind": "SriovPhysicalNic",
                "name": about,
            },
            "reason": "Sliced",
            "message": "4 VFs on vfio-pci",
            "type": "Normal",
            "count": 1,
            "source": {"component": "kvsriov-agent", "host": node},
            "reportingComponent": "kvsriov-agent",
            "reportingInstance": node,
        }
    )


def patch_event(kubeconfig: Path, name: str, patch: dict[str, object]) -> str:
    """A merge patch of Event `name` in `default` as the agent's EventRecorder sends it (no GET
    first, which kubectl would need and RBAC does not grant); the refusal's message, or ''."""
    from kvsriov_agent.kube import KubeClient, ResourcePath, load_config
    from kvsriov_agent.kube.client import ApiError

    client = KubeClient(load_config(str(kubeconfig)), user_agent="kvsriov-tests")
    try:
        client.merge_patch(ResourcePath("", "v1", "events"), name, patch, namespace="default")
    except ApiError as err:
        return str(err)
    return ""


def test_one_nodes_token_reads_no_pods_and_touches_only_its_own_events(cluster: Path, tmp_path: Path) -> None:
    admin = cluster
    pods = {node: node_and_agent_pod(admin, node) for node in ("node-1", "node-2")}
    agent_1, agent_2 = (
        token_kubeconfig(admin, create_token(admin, "kvsriov-agent", pods[n]), tmp_path / n) for n in pods
    )
    # Pods: not even its own node's (the agent names VMs from what the kubelet reports).
    refused = kubectl(agent_1, "get", "pod", pods["node-2"], "-n", NAMESPACE)
    assert refused.returncode != 0 and 'cannot get resource "pods"' in refused.stderr, refused.stderr
    refused = kubectl(agent_1, "get", "pods", "-A", "--field-selector", "spec.nodeName=node-1")
    assert refused.returncode != 0 and 'cannot list resource "pods"' in refused.stderr, refused.stderr

    # Events: written as its own node, a repeat counted on its own node's Event only.
    assert create(agent_2, event("node-2.em1.a", "node-2", "node-2.em1")).returncode == 0
    assert create(agent_1, event("node-1.em1.a", "node-1", "node-1.em1")).returncode == 0
    assert patch_event(agent_1, "node-1.em1.a", {"count": 2}) == ""
    refused_patch = patch_event(agent_1, "node-2.em1.a", {"count": 2})
    assert "may change only the Events its node wrote" in refused_patch, refused_patch
    assert "reported by node-2" in refused_patch
    refused = create(agent_1, event("node-2.em1.b", "node-2", "node-2.em1"))
    assert refused.returncode != 0 and "writes Events only as its node" in refused.stderr, refused.stderr
    # Nor may it rewrite its own Event to pass for another node's.
    refused_patch = patch_event(agent_1, "node-1.em1.a", {"reportingInstance": "node-2"})
    assert "writes Events only as its node" in refused_patch, refused_patch
    # Events of anyone else (the kubelet, an operator) are not the agent's either.
    assert apply(admin, event("kubelet.a", "", "node-1.em1")).returncode == 0
    refused_patch = patch_event(agent_1, "kubelet.a", {"count": 2})
    assert "reported by someone else" in refused_patch, refused_patch
    listing = "jsonpath={range .items[*]}{.metadata.name}={.count}/{.reportingInstance} {end}"
    counts = kubectl(admin, "get", "events", "-n", "default", "-o", listing).stdout.split()
    assert sorted(counts) == ["kubelet.a=1/", "node-1.em1.a=2/node-1", "node-2.em1.a=1/node-2"]


def test_a_token_bound_to_no_node_writes_nothing(cluster: Path, tmp_path: Path) -> None:
    loose = token_kubeconfig(cluster, create_token(cluster, "kvsriov-agent"), tmp_path / "loose")
    refused = create(loose, host("node-1"))
    assert refused.returncode != 0 and "bound to no node" in refused.stderr, refused.stderr


def test_the_agent_does_its_job_with_its_own_permissions(cluster: Path, tmp_path: Path) -> None:
    from kvsriov.sandbox.host.simhost import fuse_unavailable, mount_sim_host
    from kvsriov.sandbox.kubelet.podresources import FakePodResources, pod_entry
    from kvsriov_agent.kube import KubeClient, ResourcePath, load_config

    if (why := fuse_unavailable()) is not None:
        pytest.skip(str(why))
    token = create_token(cluster, "kvsriov-agent", node_and_agent_pod(cluster, "node-1"))
    agent_kubeconfig = token_kubeconfig(cluster, token, tmp_path / "agent")
    admin = KubeClient(load_config(str(cluster)), user_agent="kvsriov-tests")
    nics = ResourcePath("kvsriov.io", "v1alpha1", "sriovphysicalnics")
    log = tmp_path / "agent.log"
    with (
        mount_sim_host(tmp_path / "host") as sim,
        FakePodResources(tmp_path / "pr.sock", tmp_path / "pods.json") as pods,
        log.open("wb") as out,
    ):
        pods.set_pods([])
        agent = start_agent("node-1", agent_kubeconfig, sim, pods.socket_path, out)
        try:
            # Discovery creates the host and NIC objects; adoption and status writes follow.
            wait_for(
                lambda: ((admin.get_or_none(nics, "node-1.em1") or {}).get("status") or {}).get("totalVfs"),
                timeout=START_TIMEOUT_S, what="node-1.em1 created and its status written by the agent",
            )  # fmt: skip
            em1 = admin.get(nics, "node-1.em1")
            admin.merge_patch(nics, "node-1.em1", {"spec": {"numVfs": 4}})  # the user's change
            wait_for(
                lambda: (admin.get(nics, "node-1.em1").get("status") or {}).get("numVfs") == 4,
                timeout=START_TIMEOUT_S, what="the agent slicing em1 and reporting it",
            )  # fmt: skip
            # A VM holds VF 1: restoring is refused naming the VM, with no right to read pods.
            vf1 = admin.get(nics, "node-1.em1")["status"]["vfs"][1]["pciAddress"]
            pods.set_pods([pod_entry("default", "virt-launcher-vm1-x7k2p", {"kvsriov.io/em1": [vf1]})])
            admin.merge_patch(nics, "node-1.em1", {"spec": {"numVfs": 0}})
            sliced = wait_for(
                lambda: next((c for c in admin.get(nics, "node-1.em1").get("status", {}).get("conditions", [])
                              if c["type"] == "Sliced" and c["reason"] == "InUse"), None),
                timeout=START_TIMEOUT_S, what="restoring em1 refused: a VF is in use",
            )  # fmt: skip
            assert "VF 1 (VM default/vm1)" in sliced["message"], sliced
        finally:
            stop(agent)
    assert_never_forbidden(log)
    assert em1["spec"]["nodeName"] == "node-1"


def test_the_operator_does_its_job_with_its_own_permissions(cluster: Path, tmp_path: Path) -> None:
    operator_kubeconfig = token_kubeconfig(
        cluster, create_token(cluster, "kvsriov-operator"), tmp_path / "operator"
    )
    port, health = free_port(), f"http://127.0.0.1:{free_port()}/healthz"
    cmd = [sys.executable, "-m", "kvsriov.cli", "operator", "--", "--kubeconfig", str(operator_kubeconfig),
           "--standalone", "--webhook-server", "self-signed", "--webhook-host", "127.0.0.1",
           "--webhook-port", str(port), "--liveness", health]  # fmt: skip
    log = tmp_path / "operator.log"
    with log.open("wb") as out:
        operator = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        # The Deployment's livenessProbe: kopf answers while its loop runs.
        wait_for(lambda: urllib.request.urlopen(health, timeout=5).status == 200, timeout=START_TIMEOUT_S,
                 what="the operator's liveness endpoint")  # fmt: skip
        # kopf registers the webhook configuration with the operator's own RBAC.
        wait_for(
            lambda: kubectl(cluster, "get", "validatingwebhookconfiguration", WEBHOOKS).returncode == 0,
            timeout=START_TIMEOUT_S, what="validate.kvsriov.io registered by the operator",
        )  # fmt: skip
        orphan = (
            (samples_dir() / "04-sriovl3network.yaml").read_text().replace("l2-em2-vlan100", "no-such-l2")
        )
        refused = wait_for(
            lambda: (r := apply(cluster, orphan)).returncode != 0 and r, timeout=START_TIMEOUT_S,
            what="the webhook refusing an L3 network on a missing L2 network",
        )  # fmt: skip
        assert "does not exist" in refused.stderr, refused.stderr
        for sample in ("03-sriovl2network.yaml", "04-sriovl3network.yaml"):
            done = kubectl(cluster, "apply", "--server-side", "-f", str(samples_dir() / sample))
            assert done.returncode == 0, done.stderr
        wait_for(
            lambda: kubectl(cluster, "get", "net-attach-def", "l3-vlan100", "-n", "default").returncode == 0,
            timeout=START_TIMEOUT_S, what="the NAD rendered by the operator",
        )  # fmt: skip
        wait_for(
            lambda: "Ready" in kubectl(cluster, "get", "sriovl3network", "l3-vlan100", "-o", "yaml").stdout,
            timeout=START_TIMEOUT_S, what="the L3 network's status written by the operator",
        )  # fmt: skip
    finally:
        stop(operator)
    assert_never_forbidden(log)
