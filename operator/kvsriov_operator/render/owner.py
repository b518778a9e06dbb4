"""Which NetworkAttachmentDefinitions are ours: the owner mark, and what it decides (pure).

A NAD's labels (`kvsriov.io/l3-network`, `app.kubernetes.io/managed-by`) select it, but
they do not decide ownership: they are what users and tools edit most (`kubectl label`,
kustomize `commonLabels`, a Helm chart's labels), and a user's own NAD may carry any of
them. Ownership is a **controller ownerReference** to the SriovL3Network (apiVersion,
kind, name, uid, `controller: true`), because it is the one mark that

* nobody removes by accident: no kubectl verb edits it, and `kubectl apply`, Helm and
  kustomize never drop a field their manifest did not set;
* the API server guards: at most one ownerReference of an object may be a controller
  (apimachinery `ValidateOwnerReferences`), so a NAD cannot be claimed by two operators;
* Kubernetes tooling reads: `kubectl describe` shows "Controlled By", Argo CD draws the
  NAD under its SriovL3Network, and the garbage collector deletes it when its L3 network
  is gone behind the finalizer's back (the uid is what the collector compares).

An annotation (`kvsriov.io/owner: <name>`) was not chosen: it is removed and rewritten by
the same tools as a label and the API server checks nothing about it.

Ownership goes by the owner's kind and name, not its uid: a NAD is named after its L3
network and VMs refer to it as `<namespace>/<name>`, so a network deleted and created
again under the same name owns the NAD its predecessor left (the uid is then refreshed).
`blockOwnerDeletion` is not set: with the OwnerReferencesPermissionEnforcement admission
plugin it needs `update` on the L3 network's finalizers, and our finalizer already orders
the deletion.

**Upgrades.** NADs written by kvsriov before this mark have only the two labels. A NAD with
no controller and both labels (`managed-by=kvsriov`, `l3-network=<this network>`) is
adopted: nothing but kvsriov sets that pair, those versions' NADs have exactly it, and
refusing them would turn every network Ready=False on upgrade and freeze their configs.
Once adopted it carries the ownerReference, and the labels no longer matter. A NAD with a
controller other than its L3 network is foreign even when it carries our labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

from kvsriov.api.constants import (
    ANNOTATION_L3_NETWORK,
    API_VERSION,
    GROUP,
    LABEL_L3_NETWORK,
    LABEL_MANAGED_BY,
    MANAGED_BY_VALUE,
)
from kvsriov.api.kinds import L3_KIND


class Ownership(Enum):
    OURS = "ours"
    """It has the controller ownerReference to the L3 network."""
    LEGACY = "legacy"
    """No controller, kvsriov's labels for the L3 network: written by an earlier kvsriov, adopted."""
    FOREIGN = "foreign"
    """Anything else: never written, never deleted; the L3 network reports the conflict."""


def owner_reference(l3_name: str, uid: str) -> dict[str, Any]:
    """The controller ownerReference a NAD of `l3_name` carries."""
    return {"apiVersion": API_VERSION, "kind": L3_KIND, "name": l3_name, "uid": uid, "controller": True}


def _controller(nad: Mapping[str, Any]) -> Mapping[str, Any] | None:
    refs = (nad.get("metadata") or {}).get("ownerReferences") or []
    return next((r for r in refs if r.get("controller")), None)


def _is_l3(ref: Mapping[str, Any]) -> bool:
    return ref.get("kind") == L3_KIND and str(ref.get("apiVersion", "")).split("/")[0] == GROUP


def owner_of(nad: Mapping[str, Any]) -> str | None:
    """The L3 network that owns `nad` (its controller, or for a NAD without one that kvsriov's
    labels mark: the name in its annotation, else in the label of a NAD from before the
    annotation, when names were kept as label values), else None."""
    controller = _controller(nad)
    if controller is not None:
        return str(controller.get("name")) if _is_l3(controller) else None
    meta = nad.get("metadata") or {}
    labels = meta.get("labels") or {}
    if labels.get(LABEL_MANAGED_BY) == MANAGED_BY_VALUE and labels.get(LABEL_L3_NETWORK):
        return str((meta.get("annotations") or {}).get(ANNOTATION_L3_NETWORK) or labels[LABEL_L3_NETWORK])
    return None


def ownership(nad: Mapping[str, Any], l3_name: str) -> Ownership:
    """Whether the live `nad` belongs to the L3 network `l3_name` (see the module docstring)."""
    if owner_of(nad) != l3_name:
        return Ownership.FOREIGN
    return Ownership.OURS if _controller(nad) is not None else Ownership.LEGACY


def owner_references(current: Mapping[str, Any], ours: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`current`'s ownerReferences with ours as the controller: others' non-controller references
    stay, a stale reference to an L3 network (an older uid) is replaced."""
    refs = (current.get("metadata") or {}).get("ownerReferences") or []
    kept = [dict(r) for r in refs if not _is_l3(r) and not r.get("controller")]
    return [dict(ours), *kept]


def foreign_owner(nad: Mapping[str, Any]) -> str:
    """Who a foreign NAD belongs to, in a user's words, for the L3 network's conflict message."""
    controller = _controller(nad)
    if controller is not None:
        return f"controlled by {controller.get('kind')} {controller.get('name')}"
    return "not created by kvsriov"
