"""The launcher-pod webhook: a virt-launcher pod asks for the VFs of its SR-IOV networks.

On KubeVirt >= 1.9 (gate ExternalNetResourceInjection on by default) virt-controller no longer
adds the NAD's resourceName to the launcher pod (kvsriov/vfrequests.py says why); this
mutating webhook does: one request and limit of `kvsriov.io/<pf>` per SR-IOV network in the
pod's `k8s.v1.cni.cncf.io/networks`, on the compute container, and nothing where the
container already asks for them (KubeVirt with the gate off, network-resources-injector), so
never twice. Only resources of ours: another vendor's NAD is its injector's business.

Failure policy Fail, scoped to pods labelled `kubevirt.io: virt-launcher` (objectSelector) on
CREATE. Failing closed is the point: with Ignore, an operator outage would let a launcher pod
start without its VF request, sriov-cni would fail in the pod's sandbox, and the VM would stay
broken after the operator came back (nothing recreates that pod). With Fail, virt-controller's
pod creation is refused with the webhook's error on the VMI's events and retried with backoff:
VM starts wait, visibly, until the operator is back (run it with --peering and two replicas to
keep that short). No other pod in the cluster is affected. The webhook is persistent: kopf
keeps it registered when the operator stops (a rolling update must not open a window in which
launcher pods start without VFs); an operator started with `--vf-requests
network-resources-injector` drops it from the configuration, and uninstalling kvsriov deletes
the configuration (README: VMs).

Registered per operator run (`register`), not at import: `--vf-requests
network-resources-injector` must leave no configuration behind that could block launcher pods.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import kopf

from kvsriov.kubevirt import launcher
from kvsriov_operator.vmfacts import nad_resources

HANDLER_ID = "vf-requests"
log = logging.getLogger(__name__)


async def add_vf_requests(
    body: kopf.Body,
    namespace: str | None,
    patch: kopf.Patch,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    pod = dict(body)
    selections = launcher.network_selections(pod, namespace)
    if not selections:
        return
    resource_of = await asyncio.to_thread(nad_resources, memo.clients.custom, selections)
    wanted = launcher.wanted_requests(selections, resource_of)
    missing = launcher.missing_requests(pod, wanted)
    if not missing:
        return
    # kopf types the body as its RawBody TypedDict; it is the pod as a plain dict.
    patch.fns.append(lambda raw: launcher.add_requests(cast(dict[str, Any], raw), missing))
    added = ", ".join(f"{name}={count}" for name, count in sorted(missing.items()))
    log.info("launcher pod in %s: added VF requests %s to container compute", namespace, added)


def register(registry: kopf.OperatorRegistry) -> None:
    """Add the webhook to this run's registry (called by cli.run when the knobs ask for it)."""
    kopf.on.mutate(
        "",
        "v1",
        "pods",
        id=HANDLER_ID,
        operations=["CREATE"],
        persistent=True,
        labels={launcher.LABEL_APP: launcher.APP_VIRT_LAUNCHER},
        registry=registry,
    )(add_vf_requests)
