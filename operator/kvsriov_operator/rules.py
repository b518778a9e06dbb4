"""Cross-object rules of an L3 network (pure): they need the L2 network or sibling L3 networks.

Each rule returns `FieldError`s naming the field (wire path from the object
root) and the fix, the shape the webhook and the L3 conditions both use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pydantic import ValidationError

from kvsriov.api.errors import FieldError
from kvsriov.api.ipam import Ipam
from kvsriov.api.l2 import SriovL2NetworkSpec
from kvsriov.api.l3 import SriovL3NetworkSpec, network_service_refusals
from kvsriov_operator.views import L3Ref


def effective_sriov(l3: SriovL3NetworkSpec, l2: SriovL2NetworkSpec) -> bool:
    """spec.sriov.enabled when set, else the L2 network's; never on while the L2's is off."""
    wanted = l2.sriov.enabled if l3.sriov.enabled is None else l3.sriov.enabled
    return wanted and l2.sriov.enabled


def sriov_refusals(l3: SriovL3NetworkSpec, l2_name: str, l2: SriovL2NetworkSpec) -> list[FieldError]:
    """The reference greys out SR-IOV on an L3 network whose L2 network lacks it; we refuse it."""
    if l3.sriov.enabled and not l2.sriov.enabled:
        return [
            FieldError(
                "spec.sriov.enabled",
                f"SR-IOV is off on SriovL2Network {l2_name}; unset spec.sriov.enabled or set it to false, "
                f"or set spec.sriov.enabled to true on SriovL2Network {l2_name}",
            )
        ]
    return []


def service_refusals(l3: SriovL3NetworkSpec, sriov_enabled: bool) -> list[FieldError]:
    """Security groups and (Flat/Public) EIPs while SR-IOV is effectively on (kvsriov.api.l3)."""
    return [FieldError(f"spec.{e.field}", e.message) for e in network_service_refusals(l3, sriov_enabled)]


def held_ipams(siblings: Iterable[L3Ref]) -> dict[str, Ipam]:
    """The addresses other L3 networks hold, by name: what an L3 network's ranges must not overlap.

    One being deleted is releasing its addresses; one whose IPAM does not parse holds none (its
    own conditions say why). The webhook passes every sibling, the reconcile only the older ones.
    """
    held = {}
    for other in siblings:
        if other.deleting or other.ipam is None:
            continue
        try:
            held[other.name] = Ipam.model_validate(other.ipam)
        except ValidationError:
            continue
    return held


def overlap_refusals(l2_name: str, ipam: Ipam, siblings: Mapping[str, Ipam]) -> list[FieldError]:
    """Ranges that overlap a range of another L3 network on the same L2 network (same broadcast domain).

    `siblings` are the networks that keep their addresses: the caller passes
    the older ones, so the network created later is the one refused.
    """
    refusals: list[FieldError] = []
    for i, rng in enumerate(ipam.ranges):
        for name in sorted(siblings):
            clash = next((other for other in siblings[name].ranges if rng.overlaps(other)), None)
            if clash is not None:
                refusals.append(
                    FieldError(
                        f"spec.ipam.ranges[{i}]",
                        f"{rng} overlaps {clash} of SriovL3Network {name} on the same L2 network "
                        f"{l2_name}; choose addresses outside it",
                    )
                )
    return refusals


def l3_refusals(
    l3: SriovL3NetworkSpec, l2: SriovL2NetworkSpec, siblings: Mapping[str, Ipam]
) -> list[FieldError]:
    """Every cross-object rule, in the order a user should fix them."""
    return (
        sriov_refusals(l3, l3.l2_network, l2)
        + service_refusals(l3, effective_sriov(l3, l2))
        + overlap_refusals(l3.l2_network, l3.ipam, siblings)
    )
