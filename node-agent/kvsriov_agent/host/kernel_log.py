"""The kernel log from /dev/kmsg (or a saved copy of it), under a root directory."""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

from kvsriov_agent.host import paths

#: A /dev/kmsg record is "<prio>,<seq>,<usec>,<flags>[,...];<message>" (Documentation/ABI/testing/dev-kmsg).
_KMSG_PREFIX = re.compile(r"^\d+,\d+,\d+,[^;]*;")


class KmsgKernelLog:
    """The KernelLog protocol over `<root>/dev/kmsg`.

    On the character device each read() returns one record, EAGAIN (opened
    non-blocking) ends the buffer and EPIPE means a record was overwritten
    while we read (skip on). A regular file at that path is a saved log (a
    test tree, a support bundle): kmsg records or `dmesg` lines, read whole.
    """

    def __init__(self, root: Path = Path("/")) -> None:
        self.path = Path(root) / paths.DEV_KMSG

    def lines(self) -> list[str]:
        try:
            mode = self.path.stat().st_mode
        except OSError:
            return []
        if not stat.S_ISCHR(mode):
            raw = self.path.read_text(errors="replace").splitlines()
        else:
            raw = self._read_device()
        return [_KMSG_PREFIX.sub("", line) for line in raw if line and not line.startswith(" ")]

    def _read_device(self) -> list[str]:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            return []
        records: list[str] = []
        try:
            while True:
                try:
                    chunk = os.read(fd, 8192)
                except BlockingIOError:
                    break
                except OSError as err:
                    if err.errno == errno.EPIPE:
                        continue
                    raise
                if not chunk:
                    break
                # Continuation lines (" KEY=value" dictionary entries) follow the record.
                records.append(chunk.decode(errors="replace").split("\n", 1)[0])
        finally:
            os.close(fd)
        return records
