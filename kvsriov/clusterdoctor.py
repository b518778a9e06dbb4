"""`kvsriov doctor --cluster`: can this cluster give VFs to VMs, and who adds their VF requests.

Read-only, from the cluster's API (kubeconfig as for kubectl): the peers kvsriov needs
(Multus, whereabouts, KubeVirt: their CRDs), the KubeVirt CR's version and feature gates, and
which of KubeVirt, kvsriov's launcher-pod webhook or network-resources-injector adds the VF
requests to virt-launcher pods (kvsriov/kubevirt/vfrequests.py decides, the operator's
VfRequests condition says the same). Each finding is printed with its fix, like the host doctor.
With `--drain NODE`: the VMs a drain of NODE would wait for (kvsriov/draincheck.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from typing import Any

from kvsriov import draincheck
from kvsriov.kubevirt.vfrequests import (
    KUBEVIRT_GROUP,
    KUBEVIRT_PLURAL,
    KUBEVIRT_VERSION,
    Injector,
    KubeVirtConfig,
    Ours,
    kubevirt_config,
    vf_request_mode,
)
from kvsriov_agent.doctor import Finding, finding_lines

#: kopf names both configurations after settings.admission.managed (the operator's Knobs).
OUR_CONFIGURATION = "validate.kvsriov.io"
#: The launcher-pod webhook's id (operator handlers/launcher.py), the prefix of its webhook name.
OUR_WEBHOOK_PREFIX = "vf-requests."
#: network-resources-injector's MutatingWebhookConfiguration (its deployments/webhook.yaml).
NRI_MARK = "network-resources-injector"

#: CRD -> (the project, what kvsriov needs it for)
PREREQUISITES = {
    "network-attachment-definitions.k8s.cni.cncf.io": ("Multus", "the NADs VMs attach to"),
    "ippools.whereabouts.cni.cncf.io": ("whereabouts", "the IP pools of L3 networks"),
    "virtualmachines.kubevirt.io": ("KubeVirt", "the VMs"),
    "sriovl3networks.kvsriov.io": ("kvsriov", "its own CRDs (install the chart or kustomize base)"),
}


@dataclass(frozen=True)
class ClusterFacts:
    """What the doctor read; built from the API by `read_facts`, or by a test."""

    crds: frozenset[str]
    kubevirt: KubeVirtConfig
    our_webhook: bool
    nri_webhook: bool


def findings(facts: ClusterFacts) -> list[Finding]:
    out = []
    for crd, (project, why) in PREREQUISITES.items():
        present = crd in facts.crds
        out.append(
            Finding(
                present,
                project,
                f"{crd} {'served' if present else 'missing'} ({why})",
                "" if present else f"install {project} from its upstream project (README: Install)",
            )
        )
    config = facts.kubevirt
    ours: Ours = "network-resources-injector" if facts.nri_webhook and not facts.our_webhook else "kvsriov"
    mode = vf_request_mode(config, ours, webhook_served=facts.our_webhook)
    passed = {"True": True, "False": False}.get(mode.status)
    fix = ""
    if mode.injector == Injector.NOBODY:
        fix = (
            "start the kvsriov operator with its webhooks (the chart's default), or deploy "
            "network-resources-injector, or disable the gate in the KubeVirt CR"
        )
    out.append(Finding(passed, "VF requests", f"{mode.injector}: {mode.message}", fix))
    if facts.our_webhook and facts.nri_webhook:
        out.append(
            Finding(
                None,
                "VF requests",
                "kvsriov's webhook and network-resources-injector both run: kvsriov adds only what "
                "is missing, but network-resources-injector with --honor-resources adds on top",
                "keep one: the operator's --vf-requests network-resources-injector, or remove the injector",
            )
        )
    return out


def read_facts(api: Any) -> ClusterFacts:
    import kubernetes

    extensions = kubernetes.client.ApiextensionsV1Api(api)
    crds = frozenset(c.metadata.name for c in extensions.list_custom_resource_definition().items)
    config = KubeVirtConfig(found=False)
    if "kubevirts.kubevirt.io" in crds:
        custom = kubernetes.client.CustomObjectsApi(api)
        items = custom.list_cluster_custom_object(KUBEVIRT_GROUP, KUBEVIRT_VERSION, KUBEVIRT_PLURAL)["items"]
        config = kubevirt_config(items[0] if items else None)
    admission = kubernetes.client.AdmissionregistrationV1Api(api)
    mutating = admission.list_mutating_webhook_configuration().items
    ours = any(
        c.metadata.name == OUR_CONFIGURATION
        and any(w.name.startswith(OUR_WEBHOOK_PREFIX) for w in c.webhooks or [])
        for c in mutating
    )
    nri = any(
        NRI_MARK in c.metadata.name or any(NRI_MARK in w.name for w in c.webhooks or []) for c in mutating
    )
    return ClusterFacts(crds, config, ours, nri)


def report(found: list[Finding], drain: str | None = None) -> str:
    title = "kvsriov doctor --cluster" + (f" --drain {drain}" if drain else "")
    lines = [title, *finding_lines(found)]
    blocking = [f.check for f in found if f.passed is False]
    if drain:
        verdict = draincheck.verdict(drain, found)
    else:
        verdict = "ready" if not blocking else f"not ready: {', '.join(blocking)}"
    return "\n".join([*lines, f"verdict: {verdict}"])


def main(argv: list[str]) -> int:
    import kubernetes

    parser = argparse.ArgumentParser(prog="kvsriov doctor --cluster", description=__doc__.splitlines()[0])
    parser.add_argument("--cluster", action="store_true", help="check the cluster, not this host")
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    parser.add_argument(
        "--drain",
        metavar="NODE",
        help="instead: list the VMs with VF NICs on NODE that a drain of it would wait for, and why",
    )
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text")
    args = parser.parse_args(argv)
    try:
        api = kubernetes.config.new_client_from_config(config_file=args.kubeconfig)
        facts = read_facts(api)
        if args.drain:
            vms = draincheck.read_vms(api, args.drain) if "virtualmachines.kubevirt.io" in facts.crds else []
            supply = draincheck.read_supply(api)
            found = draincheck.drain_findings(args.drain, vms, facts.kubevirt.eviction_strategy, supply)
        else:
            found = findings(facts)
    except (kubernetes.config.ConfigException, kubernetes.client.ApiException, OSError) as exc:
        print(f"kvsriov doctor --cluster: could not check: {exc}", file=sys.stderr)
        return 2
    if args.output == "json":
        print(json.dumps([asdict(f) for f in found], indent=2))
    else:
        print(report(found, args.drain))
    return 1 if any(f.passed is False for f in found) else 0
