"""Host side of the hil tier: boot the QEMU test bed once and run every `hil` test inside it.

Not marked hil itself: it is how the normal suite reaches the real kernel.
Skipped (with run-guest.sh's own message) where QEMU or the guest kernel is
missing; CI runs ../shared/testbed/setup.sh first so that never happens there.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
RUN_GUEST = PROJECT.parent / "shared" / "testbed" / "run-guest.sh"
#: Guest budget: ~5 s boot, ~80 s of interpreter and pytest start-up under TCG, ~30 s of tests.
GUEST_TIMEOUT = 900
HIL_PYTEST = [".venv/bin/python", "-m", "pytest", "-p", "no:cacheprovider", "-m", "hil", "tests/hil", "-q"]
_SUMMARY = re.compile(r"^=*\s*(?P<counts>(\d+ \w+(, )?)+) in [\d.]+s", re.MULTILINE)


@pytest.fixture(scope="module")
def run_guest() -> Path:
    if os.environ.get("KVSRIOV_TESTBED") == "1":
        pytest.skip("already inside the test bed: QEMU does not nest here")
    if not RUN_GUEST.exists():
        pytest.skip(f"{RUN_GUEST} is missing: the test bed lives in ../shared/testbed")
    check = subprocess.run([str(RUN_GUEST), "--check"], capture_output=True, text=True, timeout=60)
    if check.returncode != 0:
        pytest.skip(f"QEMU test bed not ready: {(check.stdout + check.stderr).strip()}")
    return RUN_GUEST


def run_hil(run_guest: Path, *options: str, pytest_args: tuple[str, ...] = ()) -> dict[str, int]:
    """Run the hil tests in one fresh guest; return pytest's summary counts, failing on a bad exit."""
    cmd = [str(run_guest), "--vfs-capable-nics", "2", "--plain-nics", "1", "--timeout", str(GUEST_TIMEOUT)]
    cmd += [*options, "--", *HIL_PYTEST, *pytest_args]
    proc = subprocess.run(cmd, cwd=PROJECT, capture_output=True, text=True, timeout=GUEST_TIMEOUT + 60)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"hil run failed ({proc.returncode}):\n{output[-4000:]}"
    match = _SUMMARY.search(output)
    assert match, f"no pytest summary in the guest's output:\n{output[-4000:]}"
    return {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", match.group("counts"))}


@pytest.mark.timeout(GUEST_TIMEOUT + 120)
def test_hil_tier_in_qemu(run_guest: Path) -> None:
    counts = run_hil(run_guest)
    # 7 probe/discovery + 5 slicing/binding/netlink + 1 unsafe-interrupts tests.
    assert counts.get("passed", 0) >= 13 and not counts.get("skipped") and not counts.get("failed"), counts


@pytest.mark.timeout(GUEST_TIMEOUT + 120)
def test_probe_without_interrupt_remapping_in_qemu(run_guest: Path) -> None:
    """`--iommu no-intremap` (ecap f42): the probe reports no remapping, by both sources, and VFIO
    refuses a VF's group until FileModprobe sets allow_unsafe_interrupts."""
    counts = run_hil(
        run_guest,
        "--iommu",
        "no-intremap",
        "--env",
        "KVSRIOV_HIL_IOMMU=no-intremap",
        pytest_args=("-k", "interrupt_remapping or cli_probe or unsafe_interrupts"),
    )
    assert counts.get("passed") == 4 and not counts.get("skipped") and not counts.get("failed"), counts
