"""A VF freed by the kubelet gets back the administrative state it had when the PF was sliced.

Why the agent does this (DESIGN §3 step 4): sriov-cni's ADD sets the VM's VLAN, MAC, spoof
check and trust on the PF side (`ip link set PF vf N ...`, pkg/sriov/sriov.go ApplyVFConfig),
and its DEL would restore them (ResetVFConfig), but DEL fails for a VF on vfio-pci: DPDKMode is
tagged `json:"-"`, so it is missing from the cached config and DEL takes the netdev path, "failed
to get netlink device with name net1: Link not found" (released v2.10.0 and main;
k8snetworkplumbingwg/sriov-cni PR 346 is open). So the VF would keep the last VM's MAC and VLAN
and hand them to the next VM. The rule, in order:

1. A VF is *freed* when the kubelet listed it as allocated to a pod (PodResources, through the
   device plugins) and no longer does. A VF the kubelet moved straight to another pod is not
   freed (that pod's ADD set its own settings), nor one handed out by an Allocate the kubelet
   has not listed yet (its pod's ADD may be running). After an agent restart nothing counts as
   freed until it was seen held: a fresh agent cannot tell a VM's settings from an operator's.
2. Its settings are compared with the state the PF driver gives a new VF, which is the state the
   agent slices it into (it writes no VF setting itself): no administrative MAC (the zero MAC;
   igb and ixgbe accept it as "remove the MAC"), VLAN 0 with QoS 0 (the kernel sets the 802.1Q
   protocol with it), spoof checking on, trust off, link state auto (igb_main.c
   igb_vf_configure, ixgbe_sriov.c, net/core/rtnetlink.c rtnl_fill_vfinfo). A setting the
   driver does not report (None) is left alone; only what differs is written.
3. Each differing setting is its own write, so one the driver refuses does not block the rest;
   a VF whose reset failed is tried again every pass until it succeeds, is held again or is gone,
   and each new failure is reported (a Warning Event, a log line), never silently dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from kvsriov.hosttypes import VfInfo
from kvsriov_agent.allocation import AllocationView
from kvsriov_agent.host.interfaces import Netlink

log = logging.getLogger(__name__)

#: setting -> the value a freshly sliced VF has. The keys are Netlink.set_vf's keywords ("vlan"
#: also writes qos 0); None for mac is the zero MAC, for vlan VLAN 0.
SLICED_STATE: dict[str, object] = {
    "vlan": None, "qos": 0, "mac": None, "spoofchk": True, "trust": False, "link_state": "auto",
}  # fmt: skip
_ZERO_MAC = "00:00:00:00:00:00"


@dataclass(frozen=True)
class VfReset:
    """One freed VF to put back: which settings, from what to what (as `ip link` would show them)."""

    index: int
    pci: str
    owner: str
    changes: dict[str, tuple[object, object]]

    def describe(self) -> str:
        shown = ", ".join(f"{key} {_show(old)} -> {_show(new)}" for key, (old, new) in self.changes.items())
        return f"VF {self.index} ({self.pci}, freed by {self.owner}): {shown}"


def _show(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def differences(vf: VfInfo) -> dict[str, tuple[object, object]]:
    """The settings of `vf` that differ from SLICED_STATE; unreported ones (None) are not compared."""
    now: dict[str, object] = {"vlan": vf.vlan, "qos": vf.qos, "mac": vf.mac, "spoofchk": vf.spoofchk,
                              "trust": vf.trust, "link_state": vf.link_state}  # fmt: skip
    changes: dict[str, tuple[object, object]] = {}
    for key, sliced in SLICED_STATE.items():
        value = now[key]
        if key in ("spoofchk", "trust") and value is None:
            continue  # the driver does not say: nothing to compare
        if value != sliced:
            changes[key] = (value, sliced)
    if "qos" in changes:  # qos is written with the VLAN
        changes.setdefault("vlan", (vf.vlan, None))
    return changes


def freed(before: Mapping[str, str], now: Mapping[str, str], handing_out: frozenset[str]) -> dict[str, str]:
    """PCI address -> last holder, of the VFs held in `before` and neither held nor being handed out now."""
    return {pci: owner for pci, owner in before.items() if pci not in now and pci not in handing_out}


def plan_resets(
    before: Mapping[str, str],
    now: Mapping[str, str],
    retry: Mapping[str, str],
    handing_out: frozenset[str],
    vfs: Mapping[str, VfInfo],
) -> list[VfReset]:
    """The freed VFs (and those whose reset failed before) that differ from their sliced state.

    `before`/`now`: PCI address -> holder as the kubelet listed them last pass and this pass;
    `retry`: failed resets still to do; `vfs`: the PF's VFs by PCI address, as netlink shows them.
    """
    candidates = {**retry, **freed(before, now, handing_out)}
    resets = []
    for pci, owner in sorted(candidates.items()):
        vf = vfs.get(pci)
        if vf is None or pci in now or pci in handing_out:
            continue  # gone with a re-slicing, or someone holds it again
        changes = differences(vf)
        if changes:
            resets.append(VfReset(vf.index, pci, owner, changes))
    return resets


@dataclass(frozen=True)
class ResetOutcome:
    reset: VfReset
    #: setting -> why the kernel refused it; empty when every write succeeded.
    failed: dict[str, str] = field(default_factory=dict)

    def message(self) -> str:
        if not self.failed:
            return f"restored {self.reset.describe()}"
        why = "; ".join(f"{key}: {err}" for key, err in self.failed.items())
        return (
            f"could not restore {self.reset.describe()} ({why}); the next VM on it may get these "
            "settings. Retried every pass; set them by hand with `ip link set PF vf N ...`"
        )


def apply_reset(netlink: Netlink, ifname: str, reset: VfReset) -> ResetOutcome:
    """`ip link set IFNAME vf N <setting> <sliced value>`, one setting per write."""
    failed: dict[str, str] = {}
    for key in reset.changes:
        if key == "qos":
            continue  # written with vlan
        sliced = SLICED_STATE[key]
        try:
            if key == "vlan":
                netlink.set_vf(ifname, reset.index, vlan=0, qos=0)
            elif key == "mac":
                netlink.set_vf(ifname, reset.index, mac=_ZERO_MAC)
            elif key == "spoofchk":
                netlink.set_vf(ifname, reset.index, spoofchk=bool(sliced))
            elif key == "trust":
                netlink.set_vf(ifname, reset.index, trust=bool(sliced))
            else:
                netlink.set_vf(ifname, reset.index, link_state=str(sliced))
        except OSError as err:
            failed[key] = str(err)
    return ResetOutcome(reset, failed)


@dataclass
class FreedVfs:
    """What the reset rule remembers between passes, per PF: who held which VF, which resets failed."""

    held: dict[str, dict[str, str]] = field(default_factory=dict)
    retry: dict[str, dict[str, str]] = field(default_factory=dict)
    #: (PCI address, what failed) of the failures already reported: a repeat is not reported again.
    reported: set[tuple[str, str]] = field(default_factory=set)

    def step(
        self, netlink: Netlink, ifname: str, view: AllocationView, pcis: Mapping[int, str]
    ) -> list[ResetOutcome]:
        """Plan and apply this pass's resets for PF `ifname`; returns the outcomes not yet reported.

        `view`: what the kubelet holds now; `pcis`: VF index -> PCI address (virtfnN links). The
        PF's VF settings are read only when some VF was freed or is to be retried.
        """
        owners, handing_out = view.owners, view.handing_out
        before, retry = self.held.get(ifname, {}), self.retry.get(ifname, {})
        resets: list[VfReset] = []
        if retry or freed(before, owners, handing_out):
            vfs = {pcis[vf.index]: vf for vf in netlink.vfs(ifname) if vf.index in pcis}
            resets = plan_resets(before, owners, retry, handing_out, vfs)
        self.held[ifname] = dict(owners)  # after the read: a pass that fails to read keeps the transition
        self.reported = {r for r in self.reported if r[0] not in owners}  # held again: a new story
        outcomes = [apply_reset(netlink, ifname, reset) for reset in resets]
        self.retry[ifname] = {o.reset.pci: o.reset.owner for o in outcomes if o.failed}
        new = []
        for outcome in outcomes:
            key = (outcome.reset.pci, "; ".join(f"{k}: {v}" for k, v in sorted(outcome.failed.items())))
            if outcome.failed and key in self.reported:
                log.debug("%s: %s", ifname, outcome.message())
                continue
            if outcome.failed:
                self.reported.add(key)
            else:
                self.reported = {r for r in self.reported if r[0] != outcome.reset.pci}
            new.append(outcome)
        return new
