"""Slicing on the real kernel test bed: the bare kernel path next to the agent's, for N VFs.

Bare: `echo N > sriov_numvfs`, then per VF `echo vfio-pci > driver_override`,
`echo ADDR > driver/unbind`, `echo ADDR > drivers_probe`: plain writes timed in Python.
Ours: plan_numvfs + apply_numvfs + bind_vfs (which also check every step: virtfn links,
driver links, /dev/vfio nodes). Both from 0 VFs; the restore to 0 between runs is not
timed. Prints both medians and the ratio (target: at most 1.5). Asserts nothing.

Outside the guest, it re-runs itself inside it through ../shared/testbed/run-guest.sh:

    .venv/bin/python benchmarks/slicing.py [--vfs 7] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
RUN_GUEST = PROJECT.parent / "shared" / "testbed" / "run-guest.sh"
SYS = Path("/sys")

#: TODO(runtime): the API side (spec.numVfs change -> every VF bound AND visible in
#: SriovPhysicalNic status) is timed by the runtime's engineer. Set this to a function that,
#: given (host, pf_pci, n), changes spec.numVfs and returns once status shows n bound VFs;
#: it then replaces the host-only path below as "ours".
STATUS_PATH_HOOK: Callable[[object, str, int], None] | None = None


def write(path: Path, value: str) -> None:
    with open(path, "w") as attr:
        attr.write(value)


def bare(pf_pci: str, n: int) -> None:
    dev = SYS / "bus/pci/devices" / pf_pci
    write(dev / "sriov_numvfs", str(n))
    for index in range(n):
        vf = os.path.basename(os.readlink(dev / f"virtfn{index}"))
        vdev = SYS / "bus/pci/devices" / vf
        write(vdev / "driver_override", "vfio-pci")
        if (vdev / "driver").exists():
            write(vdev / "driver/unbind", vf)
        write(SYS / "bus/pci/drivers_probe", vf)


def restore(pf_pci: str) -> None:
    write(SYS / "bus/pci/devices" / pf_pci / "sriov_numvfs", "0")


def in_guest(n: int, repeat: int) -> int:
    from kvsriov_agent.binding import bind_vfs
    from kvsriov_agent.discovery import discover_nics
    from kvsriov_agent.host.bundle import real_host
    from kvsriov_agent.slicing import apply_numvfs, plan_numvfs

    host = real_host(Path("/"))
    pf = next(nic for nic in discover_nics(host, "guest") if nic.driver == "igb")
    pci, total = pf.pci_address, pf.total_vfs

    def ours(pci: str, n: int) -> None:
        if STATUS_PATH_HOOK is not None:
            STATUS_PATH_HOOK(host, pci, n)
            return
        plan = plan_numvfs(0, n, total, {}, force=False)
        apply_numvfs(host, pci, plan.steps)
        bind_vfs(host, pci, "vfio-pci")

    runs: dict[str, list[float]] = {"bare": [], "ours": []}
    for _ in range(repeat):  # interleaved, so drift in the guest hits both alike
        for name, path in (("bare", bare), ("ours", ours)):
            start = time.perf_counter()
            path(pci, n)
            runs[name].append(time.perf_counter() - start)
            restore(pci)
    bare_s, ours_s = statistics.median(runs["bare"]), statistics.median(runs["ours"])
    print(f"PF {pf.interface} ({pci}), {n} VFs to vfio-pci, {repeat} runs each")
    print(f"bare kernel path: median {bare_s:.3f} s  {[round(t, 3) for t in runs['bare']]}")
    print(f"kvsriov path:     median {ours_s:.3f} s  {[round(t, 3) for t in runs['ours']]}")
    print(f"ratio: {ours_s / bare_s:.2f} (target <= 1.5)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vfs", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if os.environ.get("KVSRIOV_TESTBED") == "1":
        return in_guest(args.vfs, args.repeat)
    cmd = [str(RUN_GUEST), "--vfs-capable-nics", "1", "--timeout", "900", "--"]
    cmd += [".venv/bin/python", "benchmarks/slicing.py", "--vfs", str(args.vfs), "--repeat", str(args.repeat)]
    return subprocess.run(cmd, cwd=PROJECT).returncode


if __name__ == "__main__":
    sys.exit(main())
