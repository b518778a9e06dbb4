"""Live migration of VMs with VF NICs (DESIGN §4): the VMIM webhook, the VfMigratable condition,
and the check after a migration.

* The VMIM webhook follows the VM's L3 networks' spec.vmMigration: under Refuse the migration
  is refused naming who asked and what to do; under UnplugReplug it is refused only when no
  node other than the VM's could give it a VF of each resource (with the counts), since the
  target pod would otherwise wait and the migration time out. failurePolicy Ignore: with Fail,
  an operator outage would refuse every migration in the cluster, VMs without VFs included,
  and hang every drain; KubeVirt itself migrates VMs with VFs (unplug, then a new VF on the
  target), so a missed refusal loses nothing. Side effects (NoneOnDryRun): when the refused
  migration was KubeVirt's own (a drain's evacuation, the workload updater), the VMI gets
  VfMigratable=False (DrainWaiting or UpdateWaiting) and its VM an Event, once per change;
  the next admitted migration of that VMI removes it.
* VMIs: VfMigratable=False (DrainWouldWait) while the VM's eviction strategy would move it on
  a drain and a VF NIC is on a Refuse network, refreshed on the VMI's events, on a change of an
  L3 network's vmMigration and of the KubeVirt CR's evictionStrategy.
* After a completed migration, each VF NIC's new device is read from the target launcher
  pod's network-status: an Event with the old and new PCI address (VfReplugged), or a Warning
  naming the NICs that came back without one (VfNotReplugged). The VMI keeps the checked
  migration's uid in an annotation, so each migration is reported once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import kopf
import kubernetes

from kvsriov import kubevirt
from kvsriov.api.constants import GROUP
from kvsriov.kubevirt import launcher, migration
from kvsriov_operator import admission, vmis
from kvsriov_operator.clients import Clients
from kvsriov_operator.vmfacts import migration_policies, node_vfs, wanted_vfs
from kvsriov_operator.vmis import KUBEVIRT

#: On a VMI: the uid of the last migration whose VF NICs were checked.
CHECKED_ANNOTATION = f"{GROUP}/vf-migration-checked"


def judge_migration(clients: Clients, vmim: Mapping[str, Any], namespace: str, dryrun: bool) -> str | None:
    """The refusal of a VMIM, or None; records what waits when KubeVirt asked (not on a dry run)."""
    custom = clients.custom
    vmi = vmis.get_vmi(custom, namespace, str((vmim.get("spec") or {}).get("vmiName") or ""))
    if vmi is None:
        return None  # KubeVirt refuses a migration of a VMI that does not exist, in its own words
    policies = migration_policies(custom, vmi)
    refusals = admission.migration_refusals(vmi, policies, vmim)
    if not refusals and policies:
        refusals = admission.replug_refusals(
            vmi, wanted_vfs(custom, vmi), node_vfs(clients.cache.nic_counts.values())
        )
    message = "; ".join(map(str, refusals)) or None
    if not dryrun:
        record_waiting(custom, vmi, migration.initiator(vmim), message)
    return message


def record_waiting(
    custom: kubernetes.client.CustomObjectsApi,
    vmi: Mapping[str, Any],
    asked_by: migration.Initiator,
    refusal: str | None,
) -> None:
    """KubeVirt's own migration refused: the VMI says what waits (and the VM an Event, once per
    change); any migration admitted: what waited no longer does."""
    current = vmis.condition(vmi, migration.CONDITION)
    if refusal is None:
        if current is not None and current.get("reason") in migration.WAITING_REASONS:
            vmis.set_condition(custom, vmi, migration.CONDITION, None)
        return
    if asked_by.kind == "user":
        return  # the user reads the refusal
    reason, message = migration.waiting(asked_by, vmis.vm_name(vmi), refusal)
    wanted = {"status": "False", "reason": reason, "message": message}
    if vmis.set_condition(custom, vmi, migration.CONDITION, wanted):
        vmis.post_event(kubernetes.client.CoreV1Api(custom.api_client), vmi, "Warning", reason, message)


@kopf.on.validate(
    *KUBEVIRT,
    "virtualmachineinstancemigrations",
    id="vmim",
    operations=["CREATE"],
    ignore_failures=True,
    side_effects=True,
)
async def validate_migration(
    body: kopf.Body, namespace: str | None, memo: kopf.Memo, dryrun: bool = False, **_: Any
) -> None:
    refusal = await asyncio.to_thread(
        judge_migration, memo.clients, dict(body), namespace or "default", dryrun
    )
    if refusal:
        raise kopf.AdmissionError(refusal, code=422)


def refresh_drain_condition(clients: Clients, vmi: Mapping[str, Any]) -> None:
    """VfMigratable=False (DrainWouldWait) while a drain would wait for this VM, else removed.
    A DrainWaiting/UpdateWaiting condition is the webhook's, left to it."""
    current = vmis.condition(vmi, migration.CONDITION)
    if current is not None and current.get("reason") in migration.WAITING_REASONS:
        return
    cluster_strategy = clients.kubevirt.eviction_strategy
    warnings: list[str] = []
    if (
        kubevirt.vf_nics(vmi)
        and migration.eviction_strategy(kubevirt.vmi_spec(vmi), cluster_strategy).moves_vm
    ):
        policies = migration_policies(clients.custom, vmi)
        warnings = admission.drain_warnings(vmi, policies, cluster_strategy)
    wanted = (
        {"status": "False", "reason": migration.REASON_DRAIN_WOULD_WAIT, "message": warnings[0]}
        if warnings
        else None
    )
    vmis.set_condition(clients.custom, vmi, migration.CONDITION, wanted)


def refresh_all_drain_conditions(clients: Clients) -> None:
    """After a change that concerns every VM with VF NICs (a network's vmMigration, the KubeVirt
    CR's evictionStrategy)."""
    listed = clients.custom.list_cluster_custom_object(*KUBEVIRT, "virtualmachineinstances")["items"]
    for vmi in listed:
        if kubevirt.vf_nics(vmi) or vmis.condition(vmi, migration.CONDITION) is not None:
            refresh_drain_condition(clients, vmi)


def _pod(core: kubernetes.client.CoreV1Api, namespace: str, name: str) -> dict[str, Any] | None:
    if not name:
        return None
    try:
        return dict(core.api_client.sanitize_for_serialization(core.read_namespaced_pod(name, namespace)))
    except kubernetes.client.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def check_replug(clients: Clients, vmi: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """After a completed migration not yet checked: (Event type, reason, message), once."""
    state = (vmi.get("status") or {}).get("migrationState") or {}
    uid = str(state.get("migrationUid") or "")
    meta = vmi.get("metadata") or {}
    if not state.get("completed") or state.get("failed") or not uid:
        return None
    if (meta.get("annotations") or {}).get(CHECKED_ANNOTATION) == uid:
        return None
    names = [nic.name for nic in kubevirt.vf_nics(vmi)]
    if not names:
        return None
    namespace = str(meta.get("namespace") or "default")
    core = clients.core
    source = launcher.nic_pci_addresses(vmi, _pod(core, namespace, str(state.get("sourcePod") or "")))
    target = launcher.nic_pci_addresses(vmi, _pod(core, namespace, str(state.get("targetPod") or "")))
    before = [migration.VfPlacement(n, str(state.get("sourceNode") or ""), source.get(n, "")) for n in names]
    after = [migration.VfPlacement(n, str(state.get("targetNode") or ""), target.get(n, "")) for n in names]
    patch = {
        "metadata": {"resourceVersion": meta.get("resourceVersion"), "annotations": {CHECKED_ANNOTATION: uid}}
    }
    try:
        clients.custom.patch_namespaced_custom_object(
            *KUBEVIRT, namespace, "virtualmachineinstances", str(meta.get("name")), patch
        )
    except kubernetes.client.ApiException as exc:
        if exc.status in (404, 409):
            return None  # gone, or changed meanwhile: its next event brings it back
        raise
    return migration.replug_report(vmis.vm_name(vmi), before, after)


@kopf.on.event(*KUBEVIRT, "virtualmachineinstances")
async def vmi_migration(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    if type == "DELETED":
        return
    vmi = dict(body)
    if not kubevirt.vf_nics(vmi) and vmis.condition(vmi, migration.CONDITION) is None:
        return
    report = await asyncio.to_thread(check_replug, memo.clients, vmi)
    if report is not None:
        await asyncio.to_thread(vmis.post_event, memo.clients.core, vmi, *report)
        return  # the annotation write brings a fresh event for the condition
    await asyncio.to_thread(refresh_drain_condition, memo.clients, vmi)
