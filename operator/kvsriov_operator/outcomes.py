"""What a reconcile did, as data: the Events to record, the NAD writes, an L3 network's outcome.

Plain dataclasses with no I/O, shared by the pure planner (l3plan.py), the I/O around
it (reconcile.py) and the handlers that record the Events (handlers/), so that none of
them imports another just for a result type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kvsriov.api.conditions import EventReason


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event to record on the object: what changed, in a user's words."""

    reason: str
    message: str
    type: str = "Normal"


@dataclass
class NadSync:
    """What converging an L3 network's NADs did."""

    nads: list[str]
    """namespace/name of the NADs that exist now."""
    failed: list[str] = field(default_factory=list)
    """Namespaces that could not be written (they do not exist)."""
    conflicts: dict[str, str] = field(default_factory=dict)
    """NADs of the wanted names that are not ours (render/owner.py), left alone: namespace/name ->
    who they belong to."""
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def events(self) -> list[Event]:
        return [
            Event(reason, f"{verb} NetworkAttachmentDefinition {', '.join(keys)}")
            for reason, verb, keys in (
                (EventReason.NAD_CREATED, "created", self.created),
                (EventReason.NAD_UPDATED, "re-rendered", self.updated),
                (EventReason.NAD_DELETED, "removed", self.deleted),
            )
            if keys
        ]


@dataclass
class L3Outcome:
    """What reconciling an L3 network decided: its new status and the events to record."""

    status: dict[str, Any]
    warning: str | None = None
    nads: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
