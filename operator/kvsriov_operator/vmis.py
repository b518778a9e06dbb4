"""What the operator writes on KubeVirt's VMIs and VMs: its own conditions, and Events on the VM.

A condition of ours goes on the VMI, not the VM: virt-controller rewrites a VM's conditions from
its VMI's (pkg/virt-controller/watch/vm/vm.go syncConditions), so one written on the VM alone
would be removed. It goes on the object itself: KubeVirt's VMI CRD has no status subresource
(pkg/virt-operator/resource/generate/components/crds.go). Stopping a VM deletes its VMI, and
the conditions with it.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from typing import Any

import kubernetes

from kvsriov.api.conditions import now_rfc3339
from kvsriov_operator.settings import REPORTING_COMPONENT

KUBEVIRT = ("kubevirt.io", "v1")
log = logging.getLogger(__name__)


def get_vmi(custom: kubernetes.client.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        return dict(
            custom.get_namespaced_custom_object(*KUBEVIRT, namespace, "virtualmachineinstances", name)
        )
    except kubernetes.client.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def owner_vm(vmi: Mapping[str, Any]) -> dict[str, Any] | None:
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


def vm_name(vmi: Mapping[str, Any]) -> str:
    """`namespace/name` of the VMI's VM (a VM and its VMI share their name)."""
    meta = vmi.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name')}"


def post_event(
    core: kubernetes.client.CoreV1Api, vmi: Mapping[str, Any], type_: str, reason: str, message: str
) -> None:
    """An Event on the VMI's VM (where `kubectl describe vm` shows it), else on the VMI.

    Written with the API client, not kopf.event: kopf's event queue is not reachable from its
    webhook server's requests, and the VMIM webhook posts Events too. Shaped as kopf's
    (kopf/_cogs/clients/events.py), so `kubectl describe` shows all of ours alike.
    """
    target = owner_vm(vmi) or vmi
    meta = target.get("metadata") or {}
    namespace = str(meta.get("namespace") or "default")
    now = datetime.datetime.now(datetime.UTC).isoformat()
    body = {
        "metadata": {"namespace": namespace, "generateName": "kvsriov-"},
        "type": type_,
        "reason": reason,
        "message": message[:1024],
        "reportingComponent": REPORTING_COMPONENT,
        "reportingInstance": REPORTING_COMPONENT,
        "source": {"component": REPORTING_COMPONENT},
        "involvedObject": {
            "apiVersion": target.get("apiVersion") or "kubevirt.io/v1",
            "kind": target.get("kind") or "VirtualMachineInstance",
            "name": meta.get("name"),
            "namespace": namespace,
            "uid": meta.get("uid"),
        },
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
    try:
        core.create_namespaced_event(namespace, body)
    except kubernetes.client.ApiException as exc:  # an Event is help, never a failure
        log.warning("could not post Event %s on %s/%s: %s", reason, namespace, meta.get("name"), exc.reason)


def condition(vmi: Mapping[str, Any], type_: str) -> dict[str, Any] | None:
    found = [c for c in (vmi.get("status") or {}).get("conditions") or [] if c.get("type") == type_]
    return dict(found[0]) if found else None


def set_condition(
    custom: kubernetes.client.CustomObjectsApi,
    vmi: Mapping[str, Any],
    type_: str,
    wanted: Mapping[str, str] | None,
) -> bool:
    """Make the VMI's `type_` condition `wanted` (status, reason, message), or remove it (None).

    Returns whether it wrote. The transition time is kept while the status stays. Guarded by the
    VMI's resourceVersion: a VMI changed meanwhile answers 409 and its next event brings the
    caller back with the fresh list.
    """
    conditions = [dict(c) for c in (vmi.get("status") or {}).get("conditions") or []]
    ours = next((c for c in conditions if c.get("type") == type_), None)
    others = [c for c in conditions if c.get("type") != type_]
    if wanted is None:
        if ours is None:
            return False
        return patch_conditions(custom, vmi, others)
    if ours is not None and all(ours.get(k) == v for k, v in wanted.items()):
        return False
    kept = ours.get("lastTransitionTime") if ours and ours.get("status") == wanted.get("status") else None
    new = {"type": type_, **wanted, "lastTransitionTime": kept or now_rfc3339()}
    return patch_conditions(custom, vmi, [*others, new])


def patch_conditions(
    custom: kubernetes.client.CustomObjectsApi, vmi: Mapping[str, Any], conditions: list[dict[str, Any]]
) -> bool:
    """Replace the VMI's conditions list; False when the VMI changed meanwhile (409) or is gone."""
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
        return False
    return True
