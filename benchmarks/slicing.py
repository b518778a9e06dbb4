"""Slicing on the real kernel test bed: the bare kernel path next to the agent's, for N VFs.

Bare: `echo N > sriov_numvfs`, then per VF `echo vfio-pci > driver_override`,
`echo ADDR > driver/unbind`, `echo ADDR > drivers_probe`: plain writes timed in Python.
Host path: plan_numvfs + apply_numvfs + bind_vfs in this process (which also check every
step: virtfn links, driver links, /dev/vfio nodes).
Status path (what a user waits for): the running agent (`kvsriov agent`, with the emulated
API server and a fake kubelet in the guest, tests/hil/agent_stack.py), from the PATCH
of spec.numVfs to the MODIFIED watch event whose status lists N VFs on vfio-pci for that
generation. The bare and host paths run first, interleaved, before the agent starts (the
agent would otherwise undo the bare writes: spec.numVfs says 0); each restore to 0 is not
timed. Prints the medians and both ratios to bare (target for the status path: at most 1.5).
Asserts nothing.

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
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
#: The agent stack in the guest is test wiring (tests/hil/agent_stack.py), shared with the hil tests.
sys.path.insert(0, str(PROJECT / "tests" / "hil"))
RUN_GUEST = PROJECT.parent / "shared" / "testbed" / "run-guest.sh"
SYS = Path("/sys")

NODE = "testbed"
#: One change under TCG: the kernel's write (1.3 s for 7 VFs), binding, discovery, status writes.
CHANGE_TIMEOUT_S = 120


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


def all_bound(obj: dict[str, Any], n: int) -> bool:
    """Status of this generation lists `n` VFs, every one on vfio-pci, and Sliced is True."""
    status = obj.get("status") or {}
    vfs = status.get("vfs") or []
    sliced = any(c["type"] == "Sliced" and c["status"] == "True" for c in status.get("conditions", []))
    return (
        status.get("observedGeneration") == obj["metadata"]["generation"]
        and status.get("numVfs") == n
        and len(vfs) == n
        and all(vf.get("driver") == "vfio-pci" for vf in vfs)
        and sliced
    )


def status_path(client: Any, name: str) -> Callable[[str, int], None]:
    """PATCH spec.numVfs, then follow the object's watch (no polling) until its status shows `n` bound VFs."""
    from agent_stack import NICS

    def change(pci: str, n: int) -> None:
        patched = client.merge_patch(NICS, name, {"spec": {"numVfs": n}})
        if all_bound(patched, n):
            return
        query = {"fieldSelector": f"metadata.name={name}"}
        version = patched["metadata"]["resourceVersion"]
        for event in client.watch_stream(NICS, version, query, CHANGE_TIMEOUT_S):
            if event.get("type") == "MODIFIED" and all_bound(event["object"], n):
                return
        raise TimeoutError(f"{name}: status did not show {n} VFs on vfio-pci within {CHANGE_TIMEOUT_S} s")

    return change


def timed(runs: list[float], path: Callable[[str, int], None], pci: str, n: int) -> None:
    start = time.perf_counter()
    path(pci, n)
    runs.append(time.perf_counter() - start)


def in_guest(n: int, repeat: int) -> int:
    import tempfile

    from agent_stack import NICS, agent_stack

    from kvsriov.api.naming import nic_object_name
    from kvsriov.sandbox.wait import wait_for
    from kvsriov_agent.binding import bind_vfs
    from kvsriov_agent.discovery import discover_nics
    from kvsriov_agent.host.bundle import real_host
    from kvsriov_agent.slicing import apply_numvfs, plan_numvfs

    host = real_host(Path("/"))
    pf = next(nic for nic in discover_nics(host, NODE) if nic.driver == "igb")
    pci, total = pf.pci_address, pf.total_vfs

    def host_path(pci: str, n: int) -> None:
        plan = plan_numvfs(0, n, total, {}, force=False)
        apply_numvfs(host, pci, plan.steps)
        bind_vfs(host, pci, "vfio-pci")

    runs: dict[str, list[float]] = {"bare": [], "host": [], "status": []}
    for _ in range(repeat):  # interleaved, so drift in the guest hits both alike
        for name, path in (("bare", bare), ("host", host_path)):
            timed(runs[name], path, pci, n)
            restore(pci)
    with tempfile.TemporaryDirectory(prefix="kvsriov-bench-") as tmp, agent_stack(Path(tmp), NODE) as stack:
        name = nic_object_name(NODE, pf.interface or "")
        wait_for(
            lambda: (stack.client.get_or_none(NICS, name) or {}).get("status"),
            timeout=CHANGE_TIMEOUT_S, interval=0.2, what=f"{name} adopted by the agent",
        )  # fmt: skip
        change = status_path(stack.client, name)
        for _ in range(repeat):
            timed(runs["status"], change, pci, n)
            change(pci, 0)
        agent_log = stack.agent_log.read_text()
    passes = agent_log.count("pass complete")
    medians = {name: statistics.median(times) for name, times in runs.items()}
    print(f"PF {pf.interface} ({pci}), {n} VFs to vfio-pci, {repeat} runs each")
    print(f"agent stack started in {stack.agent_start_s:.1f} s (API server {stack.api_start_s:.1f} s)")
    for name, label in (
        ("bare", "bare kernel path"),
        ("host", "agent host code"),
        ("status", "spec -> status"),
    ):
        print(f"{label:17} median {medians[name]:.3f} s  {[round(t, 3) for t in runs[name]]}")
    print(f"agent passes: {passes}; its slicing and pass lines:")
    for line in agent_log.splitlines():
        if " VFs (writes " in line or "pass complete" in line:
            print("  " + line)
    print(f"ratio host/bare:   {medians['host'] / medians['bare']:.2f}")
    print(f"ratio status/bare: {medians['status'] / medians['bare']:.2f} (target <= 1.5)")
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
