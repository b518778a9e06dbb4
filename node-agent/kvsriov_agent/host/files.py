"""sysfs, procfs and /dev read through the file system, under a root directory.

The root is `/` on a host, the host's root mounted into the agent's container
(e.g. `/host`), or a tree built by a test: the same code reads all three.
"""

from __future__ import annotations

import os
from pathlib import Path

from kvsriov_agent.host import paths


class FileSysfs:
    """The Sysfs protocol over `<root>/sys`."""

    def __init__(self, root: Path = Path("/")) -> None:
        self.base = Path(root) / paths.SYS

    def _path(self, path: str) -> Path:
        return self.base / path

    def read(self, path: str) -> str | None:
        # sysfs attributes raise on read for "no value now": EINVAL for the speed or
        # carrier of a link that is down, ENODEV/EIO for a device being removed.
        try:
            return self._path(path).read_text(errors="replace").strip()
        except OSError:
            return None

    def write(self, path: str, value: str) -> None:
        # One write() call: a sysfs store handler sees exactly one buffer.
        with open(self._path(path), "w") as attr:
            attr.write(value)

    def listdir(self, path: str) -> list[str]:
        try:
            return sorted(os.listdir(self._path(path)))
        except OSError:
            return []

    def readlink(self, path: str) -> str | None:
        try:
            return os.readlink(self._path(path))
        except OSError:
            return None

    def resolve(self, path: str) -> str | None:
        target = self._path(path)
        if not target.exists():
            return None
        real = Path(os.path.realpath(target))
        base = Path(os.path.realpath(self.base))
        try:
            return str(real.relative_to(base))
        except ValueError:
            return str(real)

    def exists(self, path: str) -> bool:
        return self._path(path).exists()


class FileProcFs:
    """The ProcFs protocol over `<root>/proc`."""

    def __init__(self, root: Path = Path("/")) -> None:
        self.base = Path(root) / paths.PROC

    def cmdline(self) -> list[str]:
        try:
            return (self.base / paths.CMDLINE).read_text().split()
        except OSError:
            return []

    def modules(self) -> list[str]:
        try:
            text = (self.base / paths.MODULES).read_text()
        except OSError:
            return []
        return [line.split()[0] for line in text.splitlines() if line.strip()]


class FileDevFs:
    """The DevFs protocol over `<root>/dev`."""

    def __init__(self, root: Path = Path("/")) -> None:
        self.base = Path(root) / paths.DEV

    def exists(self, path: str) -> bool:
        return (self.base / path).exists()
