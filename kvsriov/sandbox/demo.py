"""`kvsriov demo`: the reference workflow, end to end, on a machine with nothing but kvsriov.

Everything runs for real except the hardware and the cluster: the emulated API
server (with our CRDs), one simulated host per node (a FUSE file system with the
kernel's SR-IOV semantics, DESIGN §5), the real node agent process on each, a
stand-in for the kubelet (its device plugin registry over real gRPC, and its
PodResources API), and the real operator process with its admission webhooks.
The walk-through then does what a user of the reference cloud does (DESIGN §1)
and prints what they would see: tables, conditions and refusals.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from kubernetes import client, config

from kvsriov.api.constants import API_VERSION, GROUP, VERSION
from kvsriov.api.kinds import HOST_PLURAL, L2_KIND, L2_PLURAL, L3_KIND, L3_PLURAL, NIC_PLURAL
from kvsriov.api.naming import devinfo_file_name
from kvsriov.kubeletapi.deviceplugin.v1beta1 import api_pb2 as pb
from kvsriov.kubevirt import launcher
from kvsriov.paths import crds_dir
from kvsriov.sandbox import kubevirt
from kvsriov.sandbox.apiserver.server import EmulatedApiServer
from kvsriov.sandbox.host.simhost import fuse_unavailable, mount_sim_host
from kvsriov.sandbox.kubelet.deviceplugins import StandInKubelet
from kvsriov.sandbox.kubelet.podresources import FakePodResources
from kvsriov.sandbox.kubevirt import LauncherNic
from kvsriov.sandbox.wait import wait_for

NODES = ("node-1", "node-2")
NODE_LABEL = {"kvsriov.io/sriov": "true"}
#: Agents and the operator are fresh interpreters; under load they need some seconds to settle.
SETTLE_TIMEOUT_S = 90.0
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
VIRT_LAUNCHER = "virt-launcher-vm-a-x7k2p"
#: vm-a's launcher pod on node-1 after the live migration of step 5c.
TARGET_LAUNCHER = "virt-launcher-vm-a-q9m4t"
#: VFs per em2: few, so that step 5 can show a VM that no single node can take.
VFS = 4
RESOURCE = "kvsriov.io/em2"
Say = Callable[[str], None]


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _process(cmd: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Cluster:
    """The API calls the walk-through makes, through the official client."""

    def __init__(self, url: str, kubeconfig: Path) -> None:
        self.url = url
        self.kubeconfig = kubeconfig
        self.api = config.new_client_from_config(config_file=str(kubeconfig))
        self.custom = client.CustomObjectsApi(self.api)
        self.core = client.CoreV1Api(self.api)
        self.admission = client.AdmissionregistrationV1Api(self.api)

    def table(self, plural: str, name: str = "") -> str:
        """`kubectl get <plural> [name]`, from the server's Table (the CRD's printer columns)."""
        path = f"{self.url}/apis/{GROUP}/{VERSION}/{plural}" + (f"/{name}" if name else "")
        request = urllib.request.Request(path, headers={"Accept": TABLE})
        with urllib.request.urlopen(request, timeout=10) as response:  # the sandbox's plain-HTTP server
            body = json.load(response)
        columns = [c for c in body["columnDefinitions"] if not c.get("priority")]
        keep = [i for i, c in enumerate(body["columnDefinitions"]) if not c.get("priority")]
        rows = [[_cell(row["cells"][i]) for i in keep] for row in body.get("rows", [])]
        header = [c["name"].upper() for c in columns]
        widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=False)]
        lines = ["   ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
                 for line in [header, *rows]]  # fmt: skip
        return "\n".join(lines)

    def get(self, plural: str, name: str) -> dict[str, Any]:
        return dict(self.custom.get_cluster_custom_object(GROUP, VERSION, plural, name))

    def exists(self, plural: str, name: str) -> bool:
        try:
            self.get(plural, name)
        except client.ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def create(self, plural: str, body: dict[str, Any]) -> None:
        self.custom.create_cluster_custom_object(GROUP, VERSION, plural, body)

    def patch_spec(self, plural: str, name: str, spec: dict[str, Any]) -> None:
        self.custom.patch_cluster_custom_object(GROUP, VERSION, plural, name, {"spec": spec})


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "<none>"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in (obj.get("status") or {}).get("conditions", []) if c["type"] == type_), {})


def _refused(say: Say, what: str, attempt: Callable[[], None]) -> None:
    """Run a change the system must refuse, and print the refusal as kubectl would."""
    say(f"$ {what}")
    try:
        attempt()
    except client.ApiException as exc:
        message = json.loads(exc.body or "{}").get("message", exc.reason)
        say(f"Error from server ({exc.status}): {message}\n")
        return
    raise RuntimeError(f"expected a refusal: {what}")


def _wait(what: str, predicate: Callable[[], bool], timeout: float = SETTLE_TIMEOUT_S) -> None:
    wait_for(predicate, timeout=timeout, interval=0.2, what=what)


def _l2(name: str, interface: str, vlan: int | None, type_: str = "Vlan") -> dict[str, Any]:
    spec: dict[str, Any] = {"type": type_, "physicalInterface": interface, "nodeSelector": NODE_LABEL}
    if vlan is not None:
        spec["vlan"] = vlan
    return {"apiVersion": API_VERSION, "kind": L2_KIND, "metadata": {"name": name}, "spec": spec}


def _l3(name: str, l2: str, cidr: str, start: str, end: str, gateway: str, **extra: Any) -> dict[str, Any]:
    spec = {"l2Network": l2, "ipam": {"cidr": cidr, "ranges": [{"start": start, "end": end}],
                                      "gateway": gateway, "dns": [gateway]}, **extra}  # fmt: skip
    return {"apiVersion": API_VERSION, "kind": L3_KIND, "metadata": {"name": name}, "spec": spec}


def start_sandbox(
    stack: ExitStack, workdir: Path, say: Say
) -> tuple[EmulatedApiServer, Path, dict[str, StandInKubelet]]:
    """API server, Nodes, one simulated host + kubelet + agent per node, the operator with its webhooks."""
    server = EmulatedApiServer(crd_dirs=[crds_dir()]).start()
    stack.callback(server.stop)
    kubeconfig = server.write_kubeconfig(workdir / "kubeconfig")
    say(f"emulated API server on {server.url} (kubeconfig {kubeconfig})")
    cluster = Cluster(server.url, kubeconfig)
    for node in NODES:
        labels = {**NODE_LABEL, "kubernetes.io/hostname": node}
        cluster.core.create_node({"metadata": {"name": node, "labels": labels}})
    python = [sys.executable, "-m", "kvsriov.cli"]
    kubelets: dict[str, StandInKubelet] = {}
    for node in NODES:
        host = stack.enter_context(mount_sim_host(workdir / node / "host", "demo"))
        sock = workdir / node / "pod-resources.sock"
        (workdir / node / "pods.json").write_text("[]")
        pod_resources = stack.enter_context(FakePodResources(sock, workdir / node / "pods.json"))
        kubelets[node] = stack.enter_context(StandInKubelet(workdir / node / "device-plugins", pod_resources))
        stack.enter_context(_process(
            [*python, "agent", "--node", node, "--kubeconfig", str(kubeconfig), "--host-root", str(host),
             "--pod-resources-socket", str(sock), "--resync", "30",
             "--device-plugin-dir", str(workdir / node / "device-plugins"),
             "--devinfo-dir", str(workdir / node / "devinfo")],
            workdir / f"agent-{node}.log",
        ))  # fmt: skip
        say(f"{node}: simulated host (82599ES em1/em2, I350 em3/em4) at {host}, node agent started")
    stack.enter_context(_process(
        [*python, "operator", "--kubeconfig", str(kubeconfig), "--standalone",
         "--webhook-server", "self-signed", "--webhook-host", "127.0.0.1", "--webhook-addr", "127.0.0.1",
         "--webhook-port", str(_free_port())],
        workdir / "operator.log",
    ))  # fmt: skip
    say("operator started (kopf, with its validating webhooks)")
    return server, kubeconfig, kubelets


def walk_through(cluster: Cluster, say: Say, kubelets: dict[str, StandInKubelet]) -> None:
    """DESIGN §1 steps 1-4, as a user of the reference cloud does them."""
    hosts = HOST_PLURAL
    nics = NIC_PLURAL
    _wait(
        "both SriovHosts reported by their agents",
        lambda: all(cluster.exists(hosts, n) and cluster.get(hosts, n).get("status") for n in NODES),
    )
    _wait(
        "8 SriovPhysicalNics discovered",
        lambda: len(cluster.custom.list_cluster_custom_object(GROUP, VERSION, nics)["items"]) == 8,
    )
    _wait("the operator's webhooks registered",
          lambda: bool(cluster.admission.list_validating_webhook_configuration().items))  # fmt: skip

    say(f"\n== Step 1: IOMMU on the hosts (SriovHost, probed by the node agent)\n$ kubectl get {HOST_PLURAL}")
    say(cluster.table(hosts))
    ready = _condition(cluster.get(hosts, "node-1"), "Ready")
    say(f"node-1 Ready={ready.get('status')} ({ready.get('reason')}): {ready.get('message')}\n")

    say("== Step 2: slice em2 into 4 VFs on both hosts (SriovPhysicalNic, discovered by the agent)")
    say(f"$ kubectl get {NIC_PLURAL}")
    say(cluster.table(nics))
    say('\n$ kubectl patch srnic node-1.em2 node-2.em2 --type=merge -p \'{"spec":{"numVfs":4}}\'')
    for node in NODES:
        cluster.patch_spec(nics, f"{node}.em2", {"numVfs": VFS})
    for node in NODES:
        _wait(
            f"{node}.em2 sliced into {VFS} VFs bound to vfio-pci",
            lambda n=node: (  # type: ignore[misc]  # mypy cannot type a lambda default (n=node: B023)
                (cluster.get(nics, f"{n}.em2").get("status") or {}).get("vfsAvailable") == VFS
            ),
        )
    say(cluster.table(nics) + "\n")
    _refused(say, "kubectl patch srnic node-1.em2 -p '{\"spec\":{\"numVfs\":70}}'",
             lambda: cluster.patch_spec(nics, "node-1.em2", {"numVfs": 70}))  # fmt: skip
    _refused(say, "kubectl patch srnic node-1.em3 -p '{\"spec\":{\"numVfs\":4}}'   # I350: not virtualizable",
             lambda: cluster.patch_spec(nics, "node-1.em3", {"numVfs": 4}))  # fmt: skip

    say("== Step 3a: an SR-IOV L2 network on em2, VLAN 100 (SriovL2Network)")
    cluster.create(L2_PLURAL, _l2("l2-em2-vlan100", "em2", 100))
    cluster.create(L2_PLURAL, _l2("l2-em1-vlan200", "em1", 200))
    _wait(
        "SR-IOV effective on both nodes for em2",
        lambda: (cluster.get(L2_PLURAL, "l2-em2-vlan100").get("status") or {}).get("effective") == "2/2",
    )
    _wait(
        "em1's L2 network evaluated",
        lambda: bool(_condition(cluster.get(L2_PLURAL, "l2-em1-vlan200"), "SriovEffective")),
    )
    say(f"$ kubectl get {L2_PLURAL}")
    say(cluster.table(L2_PLURAL))
    effective = _condition(cluster.get(L2_PLURAL, "l2-em1-vlan200"), "SriovEffective")
    say(f"l2-em1-vlan200 SriovEffective={effective.get('status')}: {effective.get('message')}\n")
    _refused(say, "kubectl apply -f l2-vxlan.yaml   # type: Vxlan",
             lambda: cluster.create(L2_PLURAL, _l2("l2-vxlan", "em2", None, "Vxlan")))  # fmt: skip

    say("== Step 3b: an L3 network on it; the operator renders a Multus NAD (SriovL3Network)")
    cluster.create(L3_PLURAL, _l3("l3-vlan100", "l2-em2-vlan100", "192.168.100.0/24",
                                          "192.168.100.10", "192.168.100.200", "192.168.100.1"))  # fmt: skip
    _wait(
        "the L3 network Ready with its NAD",
        lambda: _condition(cluster.get(L3_PLURAL, "l3-vlan100"), "Ready").get("status") == "True",
    )
    say(f"$ kubectl get {L3_PLURAL}")
    say(cluster.table(L3_PLURAL))
    nad = client.CustomObjectsApi(cluster.api).get_namespaced_custom_object(
        "k8s.cni.cncf.io", "v1", "default", "network-attachment-definitions", "l3-vlan100"
    )
    say("\n$ kubectl get net-attach-def l3-vlan100 -o jsonpath='{.metadata.annotations}{.spec.config}'")
    say(json.dumps(nad["metadata"].get("annotations", {})))
    say(json.dumps(json.loads(nad["spec"]["config"]), indent=2) + "\n")
    _refused(
        say,
        "kubectl apply -f l3-secgroup.yaml   # sriov on, networkServices.securityGroup: true",
        lambda: cluster.create(
            L3_PLURAL,
            _l3(
                "l3-secgroup",
                "l2-em2-vlan100",
                "192.168.101.0/24",
                "192.168.101.10",
                "192.168.101.20",
                "192.168.101.1",
                sriov={"enabled": True},
                networkServices={"securityGroup": True},
            ),
        ),
    )
    _refused(say, "kubectl apply -f l3-overlap.yaml   # a range overlapping l3-vlan100 on the same L2",
             lambda: cluster.create(L3_PLURAL, _l3(
                 "l3-overlap", "l2-em2-vlan100", "192.168.100.0/24", "192.168.100.150", "192.168.100.250",
                 "192.168.100.1")))  # fmt: skip

    give_a_vm_a_vf(cluster, say, kubelets["node-2"])
    stop_and_start(cluster, say, kubelets["node-2"])
    no_vf_free(cluster, say)
    migrate_vm(cluster, say, kubelets)

    say("== Restore em2 on node-1 (numVfs 0) while vm-a runs on one of its VFs")
    cluster.patch_spec(nics, "node-1.em2", {"numVfs": 0})
    _wait(
        "the agent refusing to take vm-a's VF",
        lambda: _condition(cluster.get(nics, "node-1.em2"), "Sliced").get("reason") == "InUse",
    )
    sliced = _condition(cluster.get(nics, "node-1.em2"), "Sliced")
    say(f"node-1.em2 Sliced={sliced.get('status')} ({sliced.get('reason')}): {sliced.get('message')}")
    say("\n$ virtctl stop vm-a   # the kubelet frees its VF, and the restore the spec asks for goes ahead")
    stop_vm(cluster, kubelets["node-1"], TARGET_LAUNCHER)
    _wait(
        "the L2 network reacting to node-1's restore",
        lambda: (cluster.get(L2_PLURAL, "l2-em2-vlan100").get("status") or {}).get("effective") == "1/2",
    )
    say(f"$ kubectl get {NIC_PLURAL},{L2_PLURAL}")
    say(cluster.table(nics))
    say(cluster.table(L2_PLURAL) + "\n")
    switch_nic_type(cluster, say, kubelets["node-2"], cluster.kubeconfig)


def give_a_vm_a_vf(cluster: Cluster, say: Say, kubelet: StandInKubelet) -> None:
    """Step 4 on a default KubeVirt 1.9: the launcher pod asks for no VF until the operator's webhook
    adds the request; the kubelet's device plugin then hands one VF to vm-a's pod."""
    resource = RESOURCE
    say(f"== Step 4: VM vm-a with a VF NIC on l3-vlan100, on KubeVirt v1.9.0 (device plugin {resource})")
    kv = kubevirt.kubevirt_cr("v1.9.0")
    cluster.core.create_namespace({"metadata": {"name": kubevirt.KUBEVIRT_NAMESPACE}})
    kv_args = ("kubevirt.io", "v1", kubevirt.KUBEVIRT_NAMESPACE, "kubevirts")
    cluster.custom.create_namespaced_custom_object(*kv_args, kv)
    cluster.custom.patch_namespaced_custom_object_status(*kv_args, "kubevirt", {"status": kv["status"]})
    _wait(
        "the operator reading KubeVirt's version and gates",
        lambda: "v1.9.0" in _condition(cluster.get(L3_PLURAL, "l3-vlan100"), "VfRequests").get("message", ""),
    )
    vf_requests = _condition(cluster.get(L3_PLURAL, "l3-vlan100"), "VfRequests")
    say(f"l3-vlan100 VfRequests={vf_requests['status']} ({vf_requests['reason']}): {vf_requests['message']}")
    _wait(
        f"node-2's kubelet listing {VFS} healthy {resource} devices",
        lambda: len(kubelet.healthy(resource)) == VFS,
    )
    vm = cluster.custom.create_namespaced_custom_object(*VMS, kubevirt.vm("default", "vm-a", ["l3-vlan100"]))
    start_vm(cluster, say, kubelet, vm)
    _wait(
        "node-2.em2 showing the VF in use by vm-a",
        lambda: (cluster.get(NIC_PLURAL, "node-2.em2").get("status") or {}).get("state") == "InUse",
    )
    vf = next(v for v in cluster.get(NIC_PLURAL, "node-2.em2")["status"]["vfs"] if v.get("allocated"))
    say(f"$ kubectl get {NIC_PLURAL} node-2.em2")
    say(cluster.table(NIC_PLURAL, "node-2.em2"))
    say(f"VF {vf['index']} ({vf['pciAddress']}) allocated to {vf.get('owner')}\n")


VMS = ("kubevirt.io", "v1", "default", "virtualmachines")
VMIS = ("kubevirt.io", "v1", "default", "virtualmachineinstances")
VMIMS = ("kubevirt.io", "v1", "default", "virtualmachineinstancemigrations")


def start_vm(cluster: Cluster, say: Say, kubelet: StandInKubelet, vm: dict[str, Any]) -> None:
    """What KubeVirt does when a VM starts: its VMI, and the launcher pod on node-2 (without VF
    requests, as virt-controller 1.9 makes it), which the node-2 kubelet then admits."""
    cluster.custom.create_namespaced_custom_object(*VMIS, kubevirt.vmi_of(vm))
    vmi = cluster.custom.get_namespaced_custom_object(*VMIS, "vm-a")
    created, chosen, response = run_launcher(cluster, kubelet, vmi, VIRT_LAUNCHER, "node-2")
    vmi_status = {
        "phase": "Running",
        "nodeName": "node-2",
        "activePods": {created["metadata"]["uid"]: "node-2"},
    }
    cluster.custom.patch_namespaced_custom_object(
        *VMIS, "vm-a", {"status": vmi_status}
    )  # no status subresource
    compute = launcher.compute_container(created) or {}
    asked = (compute.get("resources") or {}).get("limits", {}).get(RESOURCE)
    say(
        f"$ kubectl get pod {VIRT_LAUNCHER} "
        "-o jsonpath='{.spec.containers[?(@.name==\"compute\")].resources.limits}'"
    )
    say(
        f"{RESOURCE}: {asked}   (added by the operator's launcher-pod webhook; virt-controller 1.9 adds none)"
    )
    say(f"$ kubectl exec {VIRT_LAUNCHER} -- env | grep PCIDEVICE   # for DPDK pods and KubeVirt < 1.7")
    say("\n".join(f"{k}={v}" for k, v in response.envs.items()))
    say(f"devices in the pod: {', '.join(d.container_path for d in response.devices)}")
    say(
        f"NPWG device-info for Multus, read by KubeVirt ({chosen[0]}): "
        f"{kubelet_devinfo(kubelet, RESOURCE, chosen[0])}"
    )


def run_launcher(
    cluster: Cluster, kubelet: StandInKubelet, vmi: dict[str, Any], name: str, node: str
) -> tuple[dict[str, Any], list[str], pb.ContainerAllocateResponse]:
    """vm-a's launcher pod `name` on `node`, as virt-controller creates it (the operator's webhook
    adds the VF request), admitted by that node's kubelet, with the network-status Multus writes
    (the VF's PCI address from the device plugin's device-info). Returns the stored pod, the
    devices the kubelet chose and its Allocate response."""
    pod = kubevirt.launcher_pod(vmi, [LauncherNic("vf1", "l3-vlan100")])
    pod["metadata"]["name"] = name
    pod["spec"]["nodeName"] = node
    created = cluster.core.api_client.sanitize_for_serialization(
        cluster.core.create_namespaced_pod("default", pod)
    )
    compute = launcher.compute_container(created) or {}
    asked = int((compute.get("resources") or {}).get("limits", {}).get(RESOURCE) or 0)
    chosen, response = kubelet.admit("default", name, RESOURCE, asked)
    attached = [{"ips": [], "mac": "", "pci": chosen[0] if chosen else ""}]
    status = json.dumps(kubevirt.network_status(created, attached))
    cluster.core.patch_namespaced_pod(
        name, "default", {"metadata": {"annotations": {"k8s.v1.cni.cncf.io/network-status": status}}}
    )
    return created, chosen, response


def stop_vm(cluster: Cluster, kubelet: StandInKubelet, pod: str = VIRT_LAUNCHER) -> None:
    """`virtctl stop vm-a`: KubeVirt deletes the VMI and its launcher pod; the kubelet frees the VF."""
    kubelet.delete_pod("default", pod)
    cluster.core.delete_namespaced_pod(pod, "default")
    cluster.custom.delete_namespaced_custom_object(*VMIS, "vm-a")


def free_vfs(cluster: Cluster, nic: str) -> int:
    return int((cluster.get(NIC_PLURAL, nic).get("status") or {}).get("vfsAvailable") or 0)


def stop_and_start(cluster: Cluster, say: Say, kubelet: StandInKubelet) -> None:
    """Step 5: stopping a VM frees its VF, starting takes one again."""
    say("== Step 5: stop vm-a (its VF is freed), start it (it takes one again)\n$ virtctl stop vm-a")
    stop_vm(cluster, kubelet)
    _wait("node-2.em2 showing its VF free again", lambda: free_vfs(cluster, "node-2.em2") == VFS)
    say(cluster.table(NIC_PLURAL, "node-2.em2"))
    say("$ virtctl start vm-a")
    start_vm(cluster, say, kubelet, cluster.custom.get_namespaced_custom_object(*VMS, "vm-a"))
    _wait("node-2.em2 showing the VF taken again", lambda: free_vfs(cluster, "node-2.em2") == VFS - 1)
    say(cluster.table(NIC_PLURAL, "node-2.em2") + "\n")


def no_vf_free(cluster: Cluster, say: Say) -> None:
    """Step 5b: a VM that asks for more VFs than the cluster has free is warned when created, and
    told where VFs are while it waits (VfAvailable on its VMI, mirrored by KubeVirt to the VM)."""
    wanted = 2 * VFS
    say(f"== Step 5b: vm-big with {wanted} VF NICs on l3-vlan100 ({2 * VFS - 1} VFs are free)")
    body = kubevirt.vm("default", "vm-big", ["l3-vlan100"] * wanted)
    request = urllib.request.Request(
        f"{cluster.url}/apis/kubevirt.io/v1/namespaces/default/virtualmachines",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # raw, to show the Warning header
        created, warnings = json.load(response), response.headers.get_all("Warning") or []
    say("$ kubectl create -f vm-big.yaml")
    for warning in warnings:
        say(f"Warning: {warning.split(' ', 2)[-1].strip(chr(34))}")
    vmi = kubevirt.vmi_of(created)
    vmi["metadata"]["name"] = "vm-big"
    vmi["status"] = {"phase": "Scheduling", "conditions": [kubevirt.unschedulable([RESOURCE], 2, _now())]}
    cluster.custom.create_namespaced_custom_object(*VMIS, vmi)  # as the scheduler and KubeVirt leave it
    _wait(
        "vm-big's VfAvailable condition",
        lambda: any(
            c.get("type") == "VfAvailable"
            for c in cluster.custom.get_namespaced_custom_object(*VMIS, "vm-big")
            .get("status", {})
            .get("conditions", [])
        ),
    )
    conditions = cluster.custom.get_namespaced_custom_object(*VMIS, "vm-big")["status"]["conditions"]
    waiting = next(c for c in conditions if c["type"] == "VfAvailable")
    say(f"vm-big VfAvailable={waiting['status']} ({waiting['reason']}): {waiting['message']}\n")
    cluster.custom.delete_namespaced_custom_object(*VMIS, "vm-big")


def migrate_vm(cluster: Cluster, say: Say, kubelets: dict[str, StandInKubelet]) -> None:
    """Step 5c: KubeVirt live-migrates VMs with VF NICs; the L3 network's vmMigration decides.

    Refuse (the reference rule) turns `virtctl migrate` down with what to do; UnplugReplug lets
    it through, and the sandbox's KubeVirt stand-in does what KubeVirt does: a target launcher
    pod on another node gets its own VF, the source's VF is unplugged and freed, the VMI's
    migrationState names both pods. The operator then tells the VM where its VF went.
    """
    say("== Step 5c: live-migrate vm-a (KubeVirt moves a VM's VF NICs by unplugging and replugging them)")
    migration_of_vm_a = kubevirt.vmim("default", "vm-a")
    _refused(say, "virtctl migrate vm-a   # l3-vlan100 has spec.vmMigration: Refuse (the default)",
             lambda: cluster.custom.create_namespaced_custom_object(*VMIMS, migration_of_vm_a))  # fmt: skip
    say('$ kubectl patch srl3 l3-vlan100 --type=merge -p \'{"spec":{"vmMigration":"UnplugReplug"}}\'')
    cluster.patch_spec(L3_PLURAL, "l3-vlan100", {"vmMigration": "UnplugReplug"})
    say("$ virtctl migrate vm-a")
    vmim = cluster.custom.create_namespaced_custom_object(*VMIMS, migration_of_vm_a)
    say(f"VM vm-a was scheduled to migrate ({vmim['metadata']['name']})")
    vmi = cluster.custom.get_namespaced_custom_object(*VMIS, "vm-a")
    source = cluster.core.api_client.sanitize_for_serialization(
        cluster.core.read_namespaced_pod(VIRT_LAUNCHER, "default")
    )
    target, _, _ = run_launcher(cluster, kubelets["node-1"], vmi, TARGET_LAUNCHER, "node-1")
    kubelets["node-2"].delete_pod("default", VIRT_LAUNCHER)  # the source pod completes: its VF is free
    status = kubevirt.migrated_status(vmim["metadata"]["uid"], source, target, _now())
    cluster.custom.patch_namespaced_custom_object(*VMIS, "vm-a", {"status": {**status, "phase": "Running"}})
    say(f"(KubeVirt: {TARGET_LAUNCHER} on node-1 got its own VF; the guest saw vf1 unplugged and plugged)")
    events = wait_for(
        lambda: [
            e
            for e in cluster.core.list_namespaced_event("default").items
            if e.involved_object.name == "vm-a" and e.reason == "VfReplugged"
        ],
        timeout=SETTLE_TIMEOUT_S,
        interval=0.2,
        what="the operator's VfReplugged Event on vm-a",
    )
    say("$ kubectl get events --field-selector involvedObject.name=vm-a,reason=VfReplugged")
    say(f"{events[0].type}   {events[0].reason}   {events[0].message}")
    _wait("node-1.em2 showing vm-a's VF", lambda: free_vfs(cluster, "node-1.em2") == VFS - 1)
    _wait("node-2.em2 showing its VF free", lambda: free_vfs(cluster, "node-2.em2") == VFS)
    say(f"$ kubectl get {NIC_PLURAL} node-1.em2 node-2.em2")
    table = cluster.table(NIC_PLURAL).splitlines()
    say(
        "\n".join(
            line for n, line in enumerate(table) if n == 0 or line.startswith(("node-1.em2", "node-2.em2"))
        )
    )
    say("")


def switch_nic_type(cluster: Cluster, say: Say, kubelet: StandInKubelet, kubeconfig: Path) -> None:
    """Step 6: vm-a's NIC becomes a vNIC of the same network (its -vnic NAD), refused while it runs."""
    say("== Step 6: switch vm-a's NIC vf1 to a vNIC on the same network (bridge on br-em2, VLAN 100)")
    nad = client.CustomObjectsApi(cluster.api).get_namespaced_custom_object(
        "k8s.cni.cncf.io", "v1", "default", "network-attachment-definitions", "l3-vlan100-vnic"
    )
    say("$ kubectl get net-attach-def l3-vlan100-vnic -o jsonpath='{.spec.config}'")
    say(nad["spec"]["config"])
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    command = [sys.executable, "-m", "kvsriov.cli", "vm", "set-nic-type", "vm-a", "vf1", "vnic"]
    for _ in range(2):
        say("$ kubectl kvsriov set-nic-type vm-a vf1 vnic")
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
        say((done.stdout + done.stderr).strip())
        if done.returncode == 0:
            break
        say("$ virtctl stop vm-a")
        stop_vm(cluster, kubelet)
    nics = subprocess.run([*command[:4], "nics", "vm-a"], env=env, capture_output=True, text=True, timeout=60)
    say("$ kubectl kvsriov nics vm-a\n" + nics.stdout)


def kubelet_devinfo(kubelet: StandInKubelet, resource: str, device: str) -> str:
    return (kubelet.directory.parent / "devinfo" / devinfo_file_name(resource, device)).read_text()


def run(keep: bool, say: Say = print) -> int:
    """`kvsriov demo [--keep]`; returns the exit status."""
    reason = fuse_unavailable()
    if reason:
        say(f"kvsriov demo needs the simulated host, a FUSE file system: {reason}")
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="kvsriov-demo-"))
    with ExitStack() as stack:
        started = time.monotonic()
        server, kubeconfig, kubelets = start_sandbox(stack, workdir, say)
        cluster = Cluster(server.url, kubeconfig)
        try:
            walk_through(cluster, say, kubelets)
        except Exception:
            say(f"\nThe demo stopped early; the logs of the agents and the operator are in {workdir}")
            raise
        say(f"\nDone in {time.monotonic() - started:.0f} s. Logs: {workdir}")
        if keep:
            say(f"The sandbox keeps running: export KUBECONFIG={kubeconfig}  (Ctrl-C stops it)")
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
    return 0
