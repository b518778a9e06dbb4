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
  seconds old, and an operator outage must not block VM edits. The same webhook warns of a VM
  whose drains would wait for it: VF NICs on a network with vmMigration Refuse and an
  eviction strategy that moves the VM on a drain (kvsriov/kubevirt/migration.py); the VMI's
  VfMigratable condition says it again while the VM runs (handlers/migration.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from kvsriov import kubevirt
from kvsriov.kubevirt import vfsupply
from kvsriov_operator import admission, vmis
from kvsriov_operator.vmfacts import migration_policies, node_vfs, wanted_vfs
from kvsriov_operator.vmis import KUBEVIRT


@kopf.on.event(*KUBEVIRT, "virtualmachineinstances")
async def vmi_waiting(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    if type == "DELETED":
        return
    vmi = dict(body)
    short = vfsupply.short_resources(vmi)
    custom = memo.clients.custom
    if not short:
        if vmis.condition(vmi, vfsupply.CONDITION) is not None:
            await asyncio.to_thread(vmis.set_condition, custom, vmi, vfsupply.CONDITION, None)
        return
    wanted = await asyncio.to_thread(wanted_vfs, custom, vmi)
    supply = node_vfs(memo.clients.cache.nic_counts.values())
    message = "; ".join(vfsupply.waiting_message(r, wanted.get(r, 1), supply.get(r, [])) for r in short)
    condition = {"status": "False", "reason": vfsupply.REASON_NO_VF_FREE, "message": message}
    if await asyncio.to_thread(vmis.set_condition, custom, vmi, vfsupply.CONDITION, condition):
        await asyncio.to_thread(
            vmis.post_event, memo.clients.core, vmi, "Warning", vfsupply.REASON_NO_VF_FREE, message
        )


@kopf.on.validate(
    *KUBEVIRT, "virtualmachines", id="vm-vfs", operations=["CREATE", "UPDATE"], ignore_failures=True
)
async def warn_vm(
    body: kopf.Body,
    memo: kopf.Memo,
    warnings: list[str],
    operation: str = "CREATE",
    old: kopf.Body | None = None,
    **_: Any,
) -> None:
    vm = dict(body)
    if operation == "UPDATE" and old is not None and (old.get("spec") or {}) == (vm.get("spec") or {}):
        return
    if not kubevirt.vf_nics(vm):
        return
    custom = memo.clients.custom
    policies = await asyncio.to_thread(migration_policies, custom, vm)
    warnings.extend(admission.drain_warnings(vm, policies, memo.clients.kubevirt.eviction_strategy))
    if not vfsupply.will_run(vm):
        return
    wanted = await asyncio.to_thread(wanted_vfs, custom, vm)
    if wanted:
        warnings.extend(vfsupply.shortfall_warnings(wanted, node_vfs(memo.clients.cache.nic_counts.values())))


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
    vmi = await asyncio.to_thread(
        vmis.get_vmi, custom, meta.get("namespace") or "default", meta.get("name") or ""
    )
    running = vmi is not None
    policies = await asyncio.to_thread(migration_policies, custom, body) if running else {}
    refusals = admission.nic_type_refusals(old, body, running) + admission.hotplug_refusals(
        old, body, policies, running
    )
    if refusals:
        raise kopf.AdmissionError("; ".join(map(str, refusals)), code=422)
