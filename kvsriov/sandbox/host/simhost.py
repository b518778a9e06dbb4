"""The simulated host served as a real file system (FUSE): the agent's own FileSysfs reads it unchanged.

`serve(root, fixture)` mounts a SimKernel at `root` (its `sys/`, `proc/`, `dev/`) and
blocks until unmounted or interrupted; `mount_sim_host()` runs that in a child process
for tests and the demo. Writes reach SimKernel's store handlers, whose OSError comes back
to the writer's write(2) unchanged (EBUSY, ERANGE...), as from real sysfs.

Needs /dev/fuse and libfuse 3 (or 2), through mfusepy's ctypes bindings; no fusermount
helper is needed when run as root.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kvsriov.sandbox.host.fixtures import FIXTURES, sim_kernel
from kvsriov.sandbox.host.memfs import Dir, File, Link
from kvsriov.sandbox.host.simkernel import SimKernel
from kvsriov.sandbox.wait import WaitTimeout, wait_for

#: Start of the child process (a fresh interpreter) plus the mount; seconds on a loaded CI machine.
MOUNT_TIMEOUT_S = 30.0
#: libfuse unmounts on SIGTERM; a child that does not exit by then is killed.
UNMOUNT_TIMEOUT_S = 10.0
#: sysfs reports every attribute as 4096 bytes; with direct_io the reader gets read()'s answer anyway.
ATTR_SIZE = 4096


def fuse_unavailable() -> str | None:
    """Why a FUSE mount cannot work here, or None when it can."""
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse on this machine (FUSE module not loaded or not passed into the container)"
    if not os.access("/dev/fuse", os.R_OK | os.W_OK):
        return "/dev/fuse is not readable and writable by this user"
    if os.geteuid() != 0:
        return "mounting FUSE without the fusermount3 helper needs root"
    try:
        import mfusepy  # noqa: F401
    except (ImportError, OSError) as exc:
        return f"mfusepy/libfuse not usable: {exc}"
    return None


class SimHostOperations:
    """mfusepy operations over a SimKernel; paths arrive absolute and without symlinks."""

    use_ns = True

    def __init__(self, kernel: SimKernel) -> None:
        self.kernel = kernel

    def _node(self, path: str) -> File | Dir | Link:
        node = self.kernel.fs.lookup(path, follow=False)
        if node is None:
            raise OSError(errno.ENOENT, os.strerror(errno.ENOENT), path)
        return node

    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        node = self._node(path)
        if isinstance(node, Dir):
            return {"st_mode": stat.S_IFDIR | 0o755, "st_nlink": 2}
        if isinstance(node, Link):
            return {"st_mode": stat.S_IFLNK | 0o777, "st_nlink": 1, "st_size": len(node.target)}
        return {"st_mode": stat.S_IFREG | node.mode, "st_nlink": 1, "st_size": ATTR_SIZE}

    def readdir(self, path: str, fh: int) -> list[str]:
        return [".", "..", *self.kernel.fs.listdir(path)]

    def readlink(self, path: str) -> str:
        node = self._node(path)
        if not isinstance(node, Link):
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), path)
        return node.target

    def open(self, path: str, flags: int) -> int:
        self._node(path)
        return 0

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        return self.kernel.read(path).encode()[offset : offset + size]

    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        self.kernel.write(path, data.decode(errors="replace"))
        return len(data)

    def truncate(self, path: str, length: int, fh: int | None = None) -> int:
        return 0  # open(O_TRUNC) on a sysfs attribute: accepted, changes nothing

    def flush(self, path: str, fh: int) -> int:
        return 0

    def release(self, path: str, fh: int) -> int:
        return 0


def serve(root: Path, fixture: str = "reference") -> None:
    """Mount the fixture's simulated host at `root` and serve it until unmounted or interrupted."""
    from mfusepy import FUSE

    kernel = sim_kernel(fixture)
    root.mkdir(parents=True, exist_ok=True)
    # No caching: every stat and read must see the kernel's current state, as on sysfs.
    FUSE(
        SimHostOperations(kernel),
        str(root),
        foreground=True,
        nothreads=True,
        direct_io=True,
        attr_timeout=0,
        entry_timeout=0,
        negative_timeout=0,
        fsname="kvsriov-simhost",
    )


def _mounted(root: Path) -> bool:
    return os.path.ismount(root) and (root / "sys").exists()


@contextmanager
def mount_sim_host(root: Path, fixture: str = "reference") -> Iterator[Path]:
    """The simulated host mounted at `root` by a child process for the duration of the block."""
    root.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "kvsriov.sandbox.host.simhost", "--root", str(root), "--fixture", fixture]
    child = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    try:
        with contextlib.suppress(WaitTimeout):
            wait_for(lambda: _mounted(root) or child.poll() is not None, MOUNT_TIMEOUT_S, what="the mount")
        if not _mounted(root):
            child.kill()
            _, err = child.communicate()
            raise RuntimeError(f"simulated host did not mount at {root}: {err.strip()}")
        yield root
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(UNMOUNT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if os.path.ismount(root):
            subprocess.run(["umount", "-l", str(root)], check=False)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", required=True, type=Path, help="mount point (created when missing)")
    parser.add_argument("--fixture", default="reference", choices=sorted(FIXTURES), help="the host's NICs")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kvsriov simhost", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    reason = fuse_unavailable()
    if reason:
        print(f"kvsriov simhost: {reason}", file=sys.stderr)
        return 1
    serve(args.root, args.fixture)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
