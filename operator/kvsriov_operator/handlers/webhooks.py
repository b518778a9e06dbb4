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

from kvsriov.api.constants import GROUP, LABEL_NODE, VERSION
from kvsriov.api.errors import FieldError
from kvsriov.api.host import SriovHost
from kvsriov.api.kinds import HOST_PLURAL, L2_PLURAL, L3_PLURAL, NIC_PLURAL
from kvsriov.api.l2 import SriovL2Network
from kvsriov.api.naming import label_value
from kvsriov_operator import admission
from kvsriov_operator.clients import Clients
from kvsriov_operator.reconcile import get_or_none

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


@kopf.on.validate(GROUP, VERSION, NIC_PLURAL, id="nic", operations=OPERATIONS)
def validate_nic(
    body: kopf.Body, memo: kopf.Memo, old: kopf.Body | None = None, operation: str = "", **_: Any
) -> None:
    if not _judged(operation, old, body):
        return
    node = (body.get("spec") or {}).get("nodeName", "")
    same_node = memo.clients.custom.list_cluster_custom_object(
        GROUP, VERSION, NIC_PLURAL, label_selector=f"{LABEL_NODE}={label_value(node)}"
    )["items"]
    _refuse(admission.nic_refusals(body, same_node, old))
