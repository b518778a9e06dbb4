"""The small views of other objects that the cache keeps and the pure functions read.

A worker needs a few fields of thousands of NICs and of its sibling L3 networks, not
their bodies: these frozen dataclasses hold exactly those fields, so the cache
(cache.py) compares an event's view with the old one and wakes a worker only when
something it reads changed. They sit below every other module of the operator
(no imports of ours but the API), so the cache, the pure planners and the
metrics can all share them without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NicView:
    """What readiness needs of one SriovPhysicalNic (spec identity + the agent's status)."""

    node: str
    interface: str
    virtualization: str = "NotVirtualizable"
    state: str | None = None

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> NicView:
        spec = body.get("spec") or {}
        status = body.get("status") or {}
        assert isinstance(spec, Mapping) and isinstance(status, Mapping)
        return cls(
            node=str(spec.get("nodeName", "")),
            interface=str(spec.get("interface", "")),
            virtualization=str(status.get("virtualization", "NotVirtualizable")),
            state=status.get("state") if isinstance(status.get("state"), str) else None,
        )


@dataclass(frozen=True)
class NicCounts:
    """A PF's VF counts from its status, for the metrics (metrics.py), not for readiness."""

    node: str
    interface: str
    total: int
    num: int
    available: int
    allocated: int

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> NicCounts:
        spec, status = body.get("spec") or {}, body.get("status") or {}
        return cls(
            node=str(spec.get("nodeName", "")),
            interface=str(spec.get("interface", "")),
            total=int(status.get("totalVfs") or 0),
            num=int(status.get("numVfs") or 0),
            available=int(status.get("vfsAvailable") or 0),
            allocated=sum(1 for vf in status.get("vfs") or [] if vf.get("allocated")),
        )


@dataclass(frozen=True)
class L3Ref:
    """An L3 network as its siblings see it: who is older, which addresses it holds."""

    name: str
    created: str
    ipam: Mapping[str, Any] | None
    deleting: bool = False

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> L3Ref:
        """The view of a stored object: the cache's watch events and the webhook's listing."""
        meta, spec = body["metadata"], body.get("spec") or {}
        ipam = spec.get("ipam")
        return cls(
            meta["name"],
            meta.get("creationTimestamp") or "",
            ipam and dict(ipam),
            bool(meta.get("deletionTimestamp")),
        )
