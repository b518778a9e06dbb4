"""Validating admission webhooks for the four kinds and KubeVirt migrations (kopf's webhook server).

Thin: each reads the objects its rules need straight from the API (an index could
lag behind an L2 network created a moment before its L3 network) and raises the
refusals of `kvsriov_operator.admission` as one AdmissionError (HTTP 422).
Registered only for CREATE and UPDATE; an UPDATE that leaves the spec alone passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf
import kubernetes

from kvsriov import kubevirt
from kvsriov.api.constants import GROUP, LABEL_L3_NETWORK, LABEL_NODE, VERSION
from kvsriov.api.errors import FieldError
from kvsriov.api.host import SriovHost
from kvsriov.api.kinds import HOST_PLURAL, L2_PLURAL, L3_PLURAL, NIC_PLURAL
from kvsriov.api.l2 import SriovL2Network
from kvsriov_operator import admission
from kvsriov_operator.clients import Clients
from kvsriov_operator.reconcile import get_or_none
from kvsriov_operator.render.nad import NAD_GROUP, NAD_PLURAL, NAD_VERSION

OPERATIONS: list[kopf.Operation] = ["CREATE", "UPDATE"]


def _refuse(refusals: list[FieldError]) -> None:
    if refusals:
        raise kopf.AdmissionError("; ".join(map(str, refusals)), code=422)


def _judged(operation: str, old: Mapping[str, Any] | None, body: Mapping[str, Any]) -> bool:
    return admission.spec_changed(operation, old, body)


# kopf passes `old` and `operation` too, but its WebhookFn protocol does not name them: hence
# the defaults, which a request never uses.
@kopf.on.validate(GROUP, VERSION, HOST_PLURAL, id="host", operations=OPERATIONS)
def validate_host(body: kopf.Body, old: kopf.Body | None = None, operation: str = "", **_: Any) -> None:
    if _judged(operation, old, body):
        _refuse(admission.model_refusals(SriovHost, body))


@kopf.on.validate(GROUP, VERSION, L2_PLURAL, id="l2", operations=OPERATIONS)
def validate_l2(body: kopf.Body, old: kopf.Body | None = None, operation: str = "", **_: Any) -> None:
    if _judged(operation, old, body):
        _refuse(admission.model_refusals(SriovL2Network, body))


@kopf.on.validate(GROUP, VERSION, L3_PLURAL, id="l3", operations=OPERATIONS)
def validate_l3(
    body: kopf.Body, memo: kopf.Memo, old: kopf.Body | None = None, operation: str = "", **_: Any
) -> None:
    if not _judged(operation, old, body):
        return
    clients: Clients = memo.clients
    l2_name = (body.get("spec") or {}).get("l2Network") or ""
    l2 = get_or_none(clients.custom, L2_PLURAL, l2_name) if l2_name else None
    siblings = [
        s for s in clients.custom.list_cluster_custom_object(GROUP, VERSION, L3_PLURAL)["items"]
        if (s.get("spec") or {}).get("l2Network") == l2_name
    ]  # fmt: skip
    _refuse(admission.l3_refusals(body, l2, siblings, old if operation == "UPDATE" else None))


@kopf.on.validate(
    "kubevirt.io",
    "v1",
    "virtualmachineinstancemigrations",
    id="vmim",
    operations=["CREATE"],
    ignore_failures=True,
)
def validate_migration(body: kopf.Body, namespace: str | None, memo: kopf.Memo, **_: Any) -> None:
    """DESIGN §4: a running VM with a VF NIC follows its L3 networks' spec.vmMigration.

    failurePolicy Ignore: with Fail, an operator outage would refuse every migration in the
    cluster, VMs without VFs included, and hang every drain; KubeVirt itself migrates VMs with
    VFs (unplug, then a new VF on the target), so a missed refusal loses nothing."""
    custom = memo.clients.custom
    vmi_name = (body.get("spec") or {}).get("vmiName") or ""
    try:
        vmi = custom.get_namespaced_custom_object(
            "kubevirt.io", "v1", namespace or "default", "virtualmachineinstances", vmi_name
        )
    except kubernetes.client.ApiException as exc:
        if exc.status != 404:
            raise
        vmi = None
    policies = {} if vmi is None else migration_policies(custom, vmi)
    _refuse(admission.migration_refusals(vmi, policies, body))


def migration_policies(
    custom: kubernetes.client.CustomObjectsApi, vmi: Mapping[str, Any]
) -> dict[str, tuple[str, str]]:
    """The VMI's VF networks (`ns/nad`) -> (their SriovL3Network, its spec.vmMigration); a NAD
    that is not ours (no l3-network label) is not in it: its migrations are not our call."""
    namespace = str(vmi["metadata"].get("namespace") or "default")
    out: dict[str, tuple[str, str]] = {}
    for nic in kubevirt.vf_nics(vmi):
        key = kubevirt.qualified(nic.network, namespace)
        nad_namespace, _, nad_name = key.partition("/")
        try:
            nad = custom.get_namespaced_custom_object(
                NAD_GROUP, NAD_VERSION, nad_namespace, NAD_PLURAL, nad_name
            )
        except kubernetes.client.ApiException as exc:
            if exc.status != 404:
                raise
            continue
        l3_name = ((nad.get("metadata") or {}).get("labels") or {}).get(LABEL_L3_NETWORK)
        l3 = get_or_none(custom, L3_PLURAL, l3_name) if l3_name else None
        if l3 is not None:
            out[key] = (str(l3_name), str((l3.get("spec") or {}).get("vmMigration") or "Refuse"))
    return out


@kopf.on.validate(GROUP, VERSION, NIC_PLURAL, id="nic", operations=OPERATIONS)
def validate_nic(
    body: kopf.Body, memo: kopf.Memo, old: kopf.Body | None = None, operation: str = "", **_: Any
) -> None:
    if not _judged(operation, old, body):
        return
    node = (body.get("spec") or {}).get("nodeName", "")
    same_node = memo.clients.custom.list_cluster_custom_object(
        GROUP, VERSION, NIC_PLURAL, label_selector=f"{LABEL_NODE}={node}"
    )["items"]
    _refuse(admission.nic_refusals(body, same_node, old))
