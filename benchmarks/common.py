"""What the benchmarks share: the emulated API server as a process, memory, percentiles."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kubernetes import client, config

from kvsriov.sandbox.wait import wait_for


def start_emulated(workdir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """`kvsriov apiserver` as a subprocess (so its RSS is its own); returns it and its kubeconfig."""
    kubeconfig = workdir / "kubeconfig"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kvsriov.cli", "apiserver", "--kubeconfig-out", str(kubeconfig)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def up() -> bool:
        if not (kubeconfig.exists() and kubeconfig.stat().st_size):
            return False
        api_client = config.new_client_from_config(config_file=str(kubeconfig))
        try:
            client.VersionApi(api_client).get_code()
        finally:
            api_client.close()
        return True

    try:
        wait_for(up, timeout=30, what="the emulated API server to answer")
    except Exception:
        proc.kill()
        raise
    return proc, kubeconfig


def peak_rss_mib(pid: int) -> float:
    """VmHWM: the most resident memory the process ever had."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile, e.g. fraction 0.99 for p99."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]
