"""What the VM rules read of the cluster: the VFs a VM asks for, where VFs are free, and the
migration policy of its networks.

Read straight from the API (a NAD, an L3 network) or from the operator's cache (the NICs' VF
counts); shared by the VM webhooks, the VMI handlers and the launcher-pod webhook.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import kubernetes

from kvsriov import kubevirt
from kvsriov.api.constants import NAD_RESOURCE_ANNOTATION, RESOURCE_PREFIX
from kvsriov.api.kinds import L3_PLURAL
from kvsriov.api.naming import resource_name
from kvsriov.kubevirt import launcher, vfsupply
from kvsriov.kubevirt.launcher import NetworkSelection
from kvsriov_operator.reconcile import get_or_none
from kvsriov_operator.render.nad import NAD_GROUP, NAD_PLURAL, NAD_VERSION, nad_owner
from kvsriov_operator.views import NicCounts


def nad_resources(
    custom: kubernetes.client.CustomObjectsApi, selections: Iterable[launcher.NetworkSelection]
) -> dict[str, str]:
    """`ns/name` -> our resourceName, for each selected NAD that has one of ours.

    A NAD that does not exist is left out: Multus refuses the pod with its own message.
    """
    out: dict[str, str] = {}
    for selection in {s.qualified: s for s in selections}.values():
        try:
            nad = custom.get_namespaced_custom_object(
                NAD_GROUP, NAD_VERSION, selection.namespace, NAD_PLURAL, selection.name
            )
        except kubernetes.client.ApiException as exc:
            if exc.status == 404:
                continue
            raise
        resource = ((nad.get("metadata") or {}).get("annotations") or {}).get(NAD_RESOURCE_ANNOTATION) or ""
        if resource.startswith(f"{RESOURCE_PREFIX}/"):
            out[selection.qualified] = resource
    return out


def node_vfs(nics: Iterable[NicCounts]) -> dict[str, list[vfsupply.NodeVfs]]:
    """Resource -> each node's free/total VFs of it, from the NICs' counts (the operator's cache
    holds them; `kvsriov doctor --cluster --drain` reads them from the NICs' status)."""
    out: dict[str, list[vfsupply.NodeVfs]] = {}
    for counts in nics:
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
        l3_name = nad_owner(nad)
        l3 = get_or_none(custom, L3_PLURAL, l3_name) if l3_name else None
        if l3 is not None:
            out[key] = (str(l3_name), str((l3.get("spec") or {}).get("vmMigration") or "Refuse"))
    return out
