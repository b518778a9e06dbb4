"""vfreset.py: which freed VFs get their sliced state back, and what is written (simulated netlink)."""

from __future__ import annotations

import errno

from kvsriov.hosttypes import VfInfo
from kvsriov.sandbox.host.netlink import RecordedNetlink
from kvsriov_agent.allocation import AllocationView
from kvsriov_agent.vfreset import FreedVfs, apply_reset, differences, freed, plan_resets

VF0, VF1, VF2 = "0000:03:10.0", "0000:03:10.2", "0000:03:10.4"
PCIS = {0: VF0, 1: VF1, 2: VF2}
VM1, VM2 = "VM default/vm1", "VM default/vm2"


def clean(index: int) -> VfInfo:
    return VfInfo(index, mac=None, vlan=None, spoofchk=True, trust=False)


def used(index: int) -> VfInfo:
    """As sriov-cni's ADD leaves it (ApplyVFConfig): the VM's MAC and VLAN, trust as the NAD said."""
    return VfInfo(index, mac="02:00:00:00:00:10", vlan=100, qos=3, spoofchk=False, trust=True)


def test_a_clean_vf_differs_in_nothing() -> None:
    assert differences(clean(0)) == {}


def test_every_setting_sriov_cni_sets_is_compared_with_the_sliced_state() -> None:
    assert differences(used(0)) == {
        "vlan": (100, None),
        "qos": (3, 0),
        "mac": ("02:00:00:00:00:10", None),
        "spoofchk": (False, True),
        "trust": (True, False),
    }
    assert differences(VfInfo(0, None, None, spoofchk=True, trust=False, link_state="enable")) == {
        "link_state": ("enable", "auto")
    }


def test_settings_the_driver_does_not_report_are_left_alone() -> None:
    assert differences(VfInfo(0, mac=None, vlan=None, spoofchk=None, trust=None)) == {}


def test_qos_alone_rewrites_the_vlan_it_belongs_to() -> None:
    assert differences(VfInfo(0, None, None, qos=2, spoofchk=True, trust=False)) == {
        "vlan": (None, None),
        "qos": (2, 0),
    }


def test_freed_is_held_before_and_not_now() -> None:
    before = {VF0: VM1, VF1: VM1, VF2: VM2}
    now = {VF1: VM2}  # VF1 went straight to vm2: its ADD set vm2's settings
    assert freed(before, now, frozenset({VF2})) == {VF0: VM1}  # VF2 is being handed out again


def test_plan_resets_only_freed_vfs_that_differ() -> None:
    vfs = {VF0: used(0), VF1: clean(1), VF2: used(2)}
    resets = plan_resets({VF0: VM1, VF1: VM1}, {VF2: VM2}, {}, frozenset(), vfs)
    assert [(r.index, r.owner) for r in resets] == [(0, VM1)]  # VF1 is clean, VF2 is held
    assert "freed by VM default/vm1" in resets[0].describe() and "vlan 100 -> none" in resets[0].describe()


def test_a_failed_reset_is_retried_until_held_again_or_gone() -> None:
    vfs = {VF0: used(0)}
    assert [r.pci for r in plan_resets({}, {}, {VF0: VM1}, frozenset(), vfs)] == [VF0]
    assert plan_resets({}, {VF0: VM2}, {VF0: VM1}, frozenset(), vfs) == []
    assert plan_resets({}, {}, {VF0: VM1}, frozenset(), {}) == []  # re-sliced away


def test_a_fresh_agent_resets_nothing_it_never_saw_held() -> None:
    assert plan_resets({}, {}, {}, frozenset(), {VF0: used(0)}) == []


def test_apply_writes_each_setting_back() -> None:
    netlink = RecordedNetlink()
    netlink.add_vfs("em1", 3)
    netlink.set_vf("em1", 0, mac="02:00:00:00:00:10", vlan=100, spoofchk=False, trust=True, qos=3)
    (reset,) = plan_resets({VF0: VM1}, {}, {}, frozenset(), {VF0: netlink.vfs("em1")[0]})
    outcome = apply_reset(netlink, "em1", reset)
    assert outcome.failed == {} and outcome.message().startswith("restored VF 0 (0000:03:10.0")
    assert netlink.vfs("em1")[0] == clean(0)


def test_a_setting_the_driver_refuses_does_not_stop_the_others() -> None:
    netlink = RecordedNetlink(unsupported={"trust"})
    netlink.add_vfs("em1", 1)
    netlink.links["em1"]["vfs"][0].update(mac="02:00:00:00:00:10", vlan=100, trust=True)
    (reset,) = plan_resets({VF0: VM1}, {}, {}, frozenset(), {VF0: netlink.vfs("em1")[0]})
    outcome = apply_reset(netlink, "em1", reset)
    assert list(outcome.failed) == ["trust"] and errno.errorcode[errno.EOPNOTSUPP] not in outcome.failed
    vf = netlink.vfs("em1")[0]
    assert (vf.mac, vf.vlan, vf.trust) == (None, None, True)
    assert "could not restore VF 0" in outcome.message() and "trust: " in outcome.message()


def test_freed_vfs_across_passes() -> None:
    """Held, then freed: reset once; a failure is reported once, retried every pass, then restored."""
    netlink = RecordedNetlink(unsupported={"trust"})
    netlink.add_vfs("em1", 3)
    state = FreedVfs()
    assert state.step(netlink, "em1", AllocationView(frozenset(), {VF0: VM1}), PCIS) == []
    netlink.set_vf("em1", 0, mac="02:00:00:00:00:10", vlan=100)
    netlink.links["em1"]["vfs"][0]["trust"] = True  # as an ADD with trust: on left it
    first = state.step(netlink, "em1", AllocationView(frozenset()), PCIS)
    assert [list(o.failed) for o in first] == [["trust"]]
    assert state.step(netlink, "em1", AllocationView(frozenset()), PCIS) == []  # retried, not re-reported
    netlink.unsupported.clear()  # e.g. the PF driver was updated
    (done,) = state.step(netlink, "em1", AllocationView(frozenset()), PCIS)
    assert done.failed == {} and "trust on -> off" in done.message()
    assert netlink.vfs("em1")[0] == clean(0)
    assert state.step(netlink, "em1", AllocationView(frozenset()), PCIS) == []
