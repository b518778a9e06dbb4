"""The cluster's KubeVirt CR: which KubeVirt runs, and so who adds launcher pods' VF requests.

kopf watches kubevirts.kubevirt.io once the CRD exists (and not before: a cluster without
KubeVirt yet runs the operator all the same). A change of version or feature gates wakes every
L3 network's worker, whose VfRequests condition says who adds the requests
(kvsriov/kubevirt/vfrequests.py); a change of its evictionStrategy refreshes the VMIs'
VfMigratable condition (handlers/migration.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from kvsriov.kubevirt.vfrequests import KUBEVIRT_GROUP, KUBEVIRT_PLURAL, KUBEVIRT_VERSION, kubevirt_config
from kvsriov_operator.handlers.migration import refresh_all_drain_conditions


@kopf.on.event(KUBEVIRT_GROUP, KUBEVIRT_VERSION, KUBEVIRT_PLURAL)
async def kubevirt_changed(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    clients = memo.clients
    config = kubevirt_config(None if type == "DELETED" else dict(body))
    if config == clients.kubevirt:
        return
    moved = config.eviction_strategy != clients.kubevirt.eviction_strategy
    clients.kubevirt = config
    clients.wakeups.poke_all("l3", list(clients.cache.l3))
    if moved:  # every VM without its own evictionStrategy now follows the new one
        await asyncio.to_thread(refresh_all_drain_conditions, clients)
