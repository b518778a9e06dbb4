"""VMs waiting for a VF: the VfAvailable condition and Events, and the warning before a start.

* A VMI whose launcher pod the scheduler left Unschedulable for `Insufficient kvsriov.io/<pf>`
  gets the condition VfAvailable=False (reason NoVfFree) saying, per node that has the PF, how
  many VFs are free of how many (kvsriov/kubevirt/vfsupply.py), and its VM a Warning Event;
  the condition goes once the pod is scheduled. Watched on VMIs, not pods: virt-controller
  copies the pod's PodScheduled condition onto the VMI, and VMIs are few where pods are many.
  Stopping a VM deletes its VMI, and the condition with it.
* Creating or starting a VM (CREATE, or an UPDATE that changes its spec, e.g. virtctl start
  setting runStrategy) answers with a warning when the cluster has fewer free VFs of a resource
  than the VM's VF NICs ask for. Never a refusal, and failurePolicy Ignore: the counts can be
  seconds old, and an operator outage must not block VM edits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, cast

import kopf
import kubernetes

from kvsriov import kubevirt
from kvsriov.api.conditions import now_rfc3339
from kvsriov.api.naming import resource_name
from kvsriov.kubevirt import launcher, vfsupply
from kvsriov.kubevirt.launcher import NetworkSelection
from kvsriov_operator import admission
from kvsriov_operator.cache import ClusterCache
from kvsriov_operator.handlers.launcher import nad_resources
from kvsriov_operator.handlers.webhooks import migration_policies

KUBEVIRT = ("kubevirt.io", "v1")


def node_vfs(cache: ClusterCache) -> dict[str, list[vfsupply.NodeVfs]]:
    """Resource -> each node's free/total VFs of it, from the NICs the cache holds."""
    out: dict[str, list[vfsupply.NodeVfs]] = {}
    for counts in cache.nic_counts.values():
        if counts.num > 0:
            out.setdefault(resource_name(counts.interface), []).append(
                vfsupply.NodeVfs(counts.node, counts.available, counts.num)
            )
    return out


def wanted_vfs(custom: kubernetes.client.CustomObjectsApi, obj: Mapping[str, Any]) -> dict[str, int]:
    """Resource -> how many VFs the VM (or VMI) asks for: one per VF NIC on a NAD of ours."""
    namespace = str((obj.get("metadata") or {}).get("namespace") or "default")
    selections = []
    for nic in kubevirt.vf_nics(obj):
        ns, _, name = kubevirt.qualified(nic.network, namespace).partition("/")
        selections.append(NetworkSelection(ns, name))
    return launcher.wanted_requests(selections, nad_resources(custom, selections))


def _owner_vm(vmi: Mapping[str, Any]) -> dict[str, Any] | None:
    """The VM of a VMI (its ownerReference), as an object reference kopf can post an Event on."""
    meta = vmi.get("metadata") or {}
    for owner in meta.get("ownerReferences") or []:
        if owner.get("kind") == "VirtualMachine":
            return {
                "apiVersion": "kubevirt.io/v1",
                "kind": "VirtualMachine",
                "metadata": {
                    "name": owner.get("name"),
                    "namespace": meta.get("namespace"),
                    "uid": owner.get("uid"),
                },
            }
    return None


def _patch_conditions(
    custom: kubernetes.client.CustomObjectsApi, vmi: Mapping[str, Any], conditions: list[dict[str, Any]]
) -> None:
    """Replace the VMI's conditions list, guarded by its resourceVersion: a VMI changed meanwhile
    answers 409 and its next event brings this handler back with the fresh list. On the object
    itself: KubeVirt's VMI CRD has no status subresource (components/crds.go)."""
    meta = vmi["metadata"]
    body = {
        "metadata": {"resourceVersion": meta.get("resourceVersion")},
        "status": {"conditions": conditions},
    }
    try:
        custom.patch_namespaced_custom_object(
            *KUBEVIRT, meta["namespace"], "virtualmachineinstances", meta["name"], body
        )
    except kubernetes.client.ApiException as exc:
        if exc.status not in (404, 409):
            raise


@kopf.on.event(*KUBEVIRT, "virtualmachineinstances")
async def vmi_waiting(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    if type == "DELETED":
        return
    vmi = dict(body)
    conditions = [dict(c) for c in (vmi.get("status") or {}).get("conditions") or []]
    ours = next((c for c in conditions if c.get("type") == vfsupply.CONDITION), None)
    others = [c for c in conditions if c.get("type") != vfsupply.CONDITION]
    short = vfsupply.short_resources(vmi)
    custom = memo.clients.custom
    if not short:
        if ours is not None:
            await asyncio.to_thread(_patch_conditions, custom, vmi, others)
        return
    wanted = await asyncio.to_thread(wanted_vfs, custom, vmi)
    supply = node_vfs(memo.clients.cache)
    message = "; ".join(vfsupply.waiting_message(r, wanted.get(r, 1), supply.get(r, [])) for r in short)
    if ours is not None and ours.get("message") == message:
        return
    condition = {
        "type": vfsupply.CONDITION,
        "status": "False",
        "reason": vfsupply.REASON_NO_VF_FREE,
        "message": message,
        "lastTransitionTime": (ours or {}).get("lastTransitionTime") or now_rfc3339(),
    }
    await asyncio.to_thread(_patch_conditions, custom, vmi, [*others, condition])
    vm = _owner_vm(vmi)
    # kopf reads only apiVersion, kind and metadata of what it posts an Event about.
    kopf.event(cast(kopf.Body, vm or vmi), type="Warning", reason=vfsupply.REASON_NO_VF_FREE, message=message)


@kopf.on.validate(
    *KUBEVIRT, "virtualmachines", id="vm-vfs", operations=["CREATE", "UPDATE"], ignore_failures=True
)
async def warn_short_of_vfs(
    body: kopf.Body,
    memo: kopf.Memo,
    warnings: list[str],
    operation: str = "CREATE",
    old: kopf.Body | None = None,
    **_: Any,
) -> None:
    vm = dict(body)
    if not vfsupply.will_run(vm):
        return
    if operation == "UPDATE" and old is not None and (old.get("spec") or {}) == (vm.get("spec") or {}):
        return
    wanted = await asyncio.to_thread(wanted_vfs, memo.clients.custom, vm)
    if wanted:
        warnings.extend(vfsupply.shortfall_warnings(wanted, node_vfs(memo.clients.cache)))


def _vmi_exists(custom: kubernetes.client.CustomObjectsApi, namespace: str, name: str) -> bool:
    try:
        custom.get_namespaced_custom_object(*KUBEVIRT, namespace, "virtualmachineinstances", name)
    except kubernetes.client.ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


@kopf.on.validate(*KUBEVIRT, "virtualmachines", id="vm-nic-type", operations=["UPDATE"], ignore_failures=True)
async def refuse_nic_type_switch_while_running(
    body: kopf.Body, memo: kopf.Memo, old: kopf.Body | None = None, **_: Any
) -> None:
    """The rules of `kubectl kvsriov set-nic-type` and `attach-vf`, for an edit made by hand: no NIC
    type switch and no VF NIC added on a Refuse network while the VM runs. Ignore on failure: an
    operator outage must not block VM edits (the CLI checks the rules itself)."""
    if old is None or not (kubevirt.type_changes(old, body) or kubevirt.added_vf_nics(old, body)):
        return
    meta = body.get("metadata") or {}
    custom = memo.clients.custom
    running = await asyncio.to_thread(
        _vmi_exists, custom, meta.get("namespace") or "default", meta.get("name") or ""
    )
    policies = await asyncio.to_thread(migration_policies, custom, body) if running else {}
    refusals = admission.nic_type_refusals(old, body, running) + admission.hotplug_refusals(
        old, body, policies, running
    )
    if refusals:
        raise kopf.AdmissionError("; ".join(map(str, refusals)), code=422)
