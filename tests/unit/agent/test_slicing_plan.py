"""plan_numvfs: the pure part of slicing (DESIGN §4), every rule accepted and refused."""

from __future__ import annotations

import pytest

from kvsriov_agent.slicing import SlicePlan, plan_numvfs, removed_vfs


@pytest.mark.parametrize(
    ("current", "desired", "steps"),
    [
        (0, 7, [7]),  # slice
        (0, 63, [63]),  # up to sriov_totalvfs
        (7, 0, [0]),  # restore
        (7, 3, [0, 3]),  # shrink: the kernel refuses non-zero -> non-zero (EBUSY)
        (3, 7, [0, 7]),  # grow: the same
        (5, 5, []),  # nothing to do
        (0, 0, []),
    ],
)
def test_steps(current: int, desired: int, steps: list[int]) -> None:
    assert plan_numvfs(current, desired, 63, {}, force=False) == SlicePlan(steps=steps)


def test_above_total_refused_with_the_limit() -> None:
    plan = plan_numvfs(0, 70, 7, {}, force=False)
    assert plan.steps == [] and plan.refused == (
        "spec.numVfs: 70 exceeds the 7 VFs this NIC supports (status.totalVfs); use 1..7 or 0 to restore"
    )


def test_negative_refused() -> None:
    plan = plan_numvfs(0, -1, 7, {}, force=False)
    assert plan.refused == "spec.numVfs: -1 is negative; use 1..7 or 0 to restore"


def test_not_virtualizable_refuses_any_count_but_zero() -> None:
    plan = plan_numvfs(0, 1, 0, {}, force=False)
    assert plan.steps == [] and plan.refused is not None
    assert "not virtualizable" in plan.refused and "status.totalVfs 0" in plan.refused
    assert plan_numvfs(0, 0, 0, {}, force=False) == SlicePlan()


def test_refusal_wins_over_force() -> None:
    assert plan_numvfs(3, 70, 7, {0: "ns/vm"}, force=True).refused is not None


def test_removed_vfs_through_zero_is_every_vf() -> None:
    assert list(removed_vfs(7, 3)) == list(range(7))
    assert list(removed_vfs(3, 7)) == list(range(3))
    assert list(removed_vfs(7, 0)) == list(range(7))
    assert list(removed_vfs(0, 7)) == []
    assert list(removed_vfs(4, 4)) == []


def test_restore_in_use_refused_listing_the_vms() -> None:
    plan = plan_numvfs(7, 0, 7, {1: "prod/db", 4: "prod/web"}, force=False)
    assert plan.steps == [] and plan.lost == {}
    assert plan.refused == (
        "spec.numVfs: 0 refused: restoring to 0 removes every VF, and these are in use by running VMs: "
        "VF 1 (prod/db), VF 4 (prod/web). Stop them (virtctl stop), "
        "or set spec.force: true to take the VFs away"
    )


def test_shrink_refused_even_when_the_vf_in_use_would_survive_the_count() -> None:
    """VF 0 is below the new count, yet 7 -> 3 goes through 0 and destroys it too."""
    plan = plan_numvfs(7, 3, 7, {0: "prod/db"}, force=False)
    assert plan.refused is not None
    assert "shrinking from 7 to 3 goes through 0, which removes every VF" in plan.refused
    assert "VF 0 (prod/db)" in plan.refused


def test_grow_in_use_refused() -> None:
    plan = plan_numvfs(3, 7, 7, {2: "prod/db"}, force=False)
    assert plan.refused is not None and "changes 3 to 7 VFs only through 0" in plan.refused


def test_force_records_who_lost_a_nic() -> None:
    plan = plan_numvfs(7, 3, 7, {6: "prod/web", 0: "prod/db"}, force=True)
    assert plan == SlicePlan(steps=[0, 3], lost={0: "prod/db", 6: "prod/web"})
    assert plan_numvfs(7, 0, 7, {2: "a/b"}, force=True) == SlicePlan(steps=[0], lost={2: "a/b"})


def test_in_use_does_not_matter_when_nothing_is_removed() -> None:
    assert plan_numvfs(0, 7, 7, {}, force=False) == SlicePlan(steps=[7])
    assert plan_numvfs(7, 7, 7, {1: "prod/db"}, force=False) == SlicePlan()
