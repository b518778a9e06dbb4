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
#: Guest budget: ~5 s boot, ~80 s of interpreter and pytest start-up under TCG, ~30 s of tests,
#: ~150 s for the whole-agent module (API server and agent start-up ~90 s, then its changes).
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
    subprocess.run([PROJECT / "hack/sriov-cni/build.sh"], capture_output=True, timeout=900)  # sriov-cni etc.
    return RUN_GUEST


#: The one skip the tier tolerates: sriov-cni cannot be built where the Go module proxy refuses
#: github.com/k8snetworkplumbingwg/sriov-cni (403 on our machines); its tests say so when they skip.
TOLERATED_SKIP = "sriov CNI plugin missing"


def unexplained_skips(output: str) -> list[str]:
    """pytest's `SKIPPED [n] file: reason` lines (from -ra) other than the tolerated one."""
    return [line for line in output.splitlines() if line.startswith("SKIPPED") and TOLERATED_SKIP not in line]


def run_hil(run_guest: Path, *options: str, pytest_args: tuple[str, ...] = ()) -> dict[str, int]:
    """Run the hil tests in one fresh guest; return pytest's summary counts, failing on a bad exit
    or on a skip other than the tolerated one (whose reason is printed here, never hidden)."""
    cmd = [str(run_guest), "--vfs-capable-nics", "2", "--plain-nics", "1", "--timeout", str(GUEST_TIMEOUT)]
    cmd += [*options, "--", *HIL_PYTEST, *pytest_args]
    proc = subprocess.run(cmd, cwd=PROJECT, capture_output=True, text=True, timeout=GUEST_TIMEOUT + 60)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"hil run failed ({proc.returncode}):\n{output[-4000:]}"
    match = _SUMMARY.search(output)
    assert match, f"no pytest summary in the guest's output:\n{output[-4000:]}"
    assert not unexplained_skips(output), unexplained_skips(output)
    for line in output.splitlines():
        if line.startswith("SKIPPED"):
            print(f"in the guest: {line}")
    return {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", match.group("counts"))}


@pytest.mark.timeout(GUEST_TIMEOUT + 120)
def test_hil_tier_in_qemu(run_guest: Path) -> None:
    counts = run_hil(run_guest)
    # 7 probe/discovery + 5 slicing/binding/netlink + 1 unsafe-interrupts + 6 whole-agent
    # + 1 device-plugin + 1 doctor tests.
    assert counts.get("passed", 0) >= 21 and not counts.get("failed"), counts


@pytest.mark.timeout(GUEST_TIMEOUT + 120)
def test_probe_without_interrupt_remapping_in_qemu(run_guest: Path) -> None:
    """`--iommu no-intremap` (ecap f42): the probe reports no remapping, by both sources, VFIO
    refuses a VF's group until FileModprobe sets allow_unsafe_interrupts, and the running agent
    refuses vfio-pci binding until SriovHost spec.allowUnsafeInterrupts."""
    counts = run_hil(
        run_guest,
        "--iommu",
        "no-intremap",
        "--env",
        "KVSRIOV_HIL_IOMMU=no-intremap",
        pytest_args=("-k", "interrupt_remapping or cli_probe or unsafe_interrupts or test_agent_hil"),
    )
    # 2 probe + 1 cli probe + 1 unsafe-interrupts + 6 whole-agent tests (vfio refused until allowed)
    # + 1 doctor test.
    assert counts.get("passed") == 11 and not counts.get("skipped") and not counts.get("failed"), counts
