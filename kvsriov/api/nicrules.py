"""The DESIGN §4 NIC rules, written once: the webhook (operator/admission.py) and the node agent
(slicing.py, guards.py) both refuse with these sentences, so a user reads the same words
whichever of the two meets the spec first. Each returns the message for `spec.numVfs`, or None.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

FIELD: Final = "spec.numVfs"


def num_vfs_refusal(num_vfs: int, total_vfs: int) -> str | None:
    """numVfs is 0 (restore) or 1..sriov_totalvfs (the kernel refuses more with ERANGE)."""
    limits = f"use 1..{total_vfs} or 0 to restore"
    if num_vfs < 0:
        return f"{num_vfs} is negative; {limits}"
    if num_vfs == 0:
        return None
    if total_vfs == 0:
        return (
            f"{num_vfs} VFs requested but this NIC is not virtualizable: it supports none "
            "(status.totalVfs 0: no SR-IOV capability, or it is off in firmware); set 0"
        )
    if num_vfs > total_vfs:
        return f"{num_vfs} exceeds the {total_vfs} VFs this NIC supports (status.totalVfs); {limits}"
    return None


@dataclass(frozen=True)
class BondPeer:
    """Another PF of the same node, as far as the bond rule cares."""

    name: str
    interface: str
    master: str | None
    #: VFs it has or is asked for (max of status.numVfs and spec.numVfs).
    vfs: int


def bond_refusal(name: str, master: str | None, num_vfs: int, peers: Iterable[BondPeer]) -> str | None:
    """Of a bond over several PFs only one may be sliced: the members share one MAC and traffic,
    and VFs on two of them would split it. Names the sliced member."""
    if not master or num_vfs == 0:
        return None
    for peer in peers:
        if peer.name != name and peer.master == master and peer.vfs > 0:
            return (
                f"{master} bonds several PFs and only one of them may be sliced: {peer.interface} "
                f"(SriovPhysicalNic {peer.name}) already has {peer.vfs} VFs; restore it to 0 first, "
                "or keep this one at 0"
            )
    return None
