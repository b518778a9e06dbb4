"""The boot loader's kernel command line: spec.configureKernelArgs (DESIGN §2b SriovHost).

Supported: GRUB as Debian and Ubuntu ship it. `update-grub` sources
`/etc/default/grub` and then every `/etc/default/grub.d/*.cfg`, so a drop-in
that appends to GRUB_CMDLINE_LINUX adds our arguments without touching the
administrator's file. The agent never runs `update-grub` and never reboots:
the host's administrator runs `update-grub` (or the distribution's kernel
hooks do) and reboots when it suits them; the runtime reports rebootRequired
until /proc/cmdline shows the arguments.

Refused on purpose: systemd-boot / kernel-install keep the WHOLE command line
in one file, `/etc/kernel/cmdline`, with no drop-in directory. Editing it would
mean rewriting the administrator's root= and other arguments, so we report
what to add instead. Any other loader (grubby/BLS on Fedora, zipl, ...):
`loader()` returns None and the runtime sets an "unsupported boot loader"
condition.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

GRUB: Final = "grub"
KERNEL_INSTALL: Final = "kernel-install"
#: Present on every Debian/Ubuntu GRUB install: update-grub reads it first.
GRUB_DEFAULTS: Final = "etc/default/grub"
#: Our drop-in; update-grub sources grub.d/*.cfg after /etc/default/grub.
GRUB_DROP_IN: Final = "etc/default/grub.d/kvsriov.cfg"
#: systemd-boot / kernel-install: the complete command line, a single file (not a drop-in).
KERNEL_CMDLINE: Final = "etc/kernel/cmdline"
_LINE = re.compile(r'^GRUB_CMDLINE_LINUX="\$GRUB_CMDLINE_LINUX (?P<args>[^"]*)"\s*$', re.MULTILINE)


class BootConfigError(Exception):
    """The boot loader cannot be configured by us; the message says what the administrator can do."""


class FileBootConfig:
    """The BootConfig protocol over the files under `root` (the host's `/`, or a test directory)."""

    def __init__(self, root: Path = Path("/")) -> None:
        self.root = Path(root)

    def loader(self) -> str | None:
        if (self.root / GRUB_DEFAULTS).exists():
            return GRUB
        if (self.root / KERNEL_CMDLINE).exists():
            return KERNEL_INSTALL
        return None

    def kernel_args(self) -> list[str]:
        try:
            text = (self.root / GRUB_DROP_IN).read_text()
        except OSError:
            return []
        match = _LINE.search(text)
        return match.group("args").split() if match else []

    def set_kernel_args(self, args: list[str]) -> None:
        """Write (or, for no arguments, remove) the GRUB drop-in; raises BootConfigError elsewhere."""
        loader = self.loader()
        if loader == KERNEL_INSTALL:
            raise BootConfigError(
                f"/{KERNEL_CMDLINE} holds the whole kernel command line (systemd-boot/kernel-install) "
                f"and has no drop-in: kvsriov does not rewrite it. Add `{' '.join(args)}` there, "
                "run `kernel-install add` for the current kernel and reboot."
            )
        if loader != GRUB:
            raise BootConfigError(
                f"unsupported boot loader: no /{GRUB_DEFAULTS} nor /{KERNEL_CMDLINE}; add "
                f"`{' '.join(args)}` to the kernel command line yourself and reboot."
            )
        drop_in = self.root / GRUB_DROP_IN
        if not args:
            drop_in.unlink(missing_ok=True)
            return
        drop_in.parent.mkdir(parents=True, exist_ok=True)
        drop_in.write_text(
            "# Written by the kvsriov node agent (SriovHost spec.configureKernelArgs).\n"
            "# Takes effect after `update-grub` and a reboot; kvsriov runs neither.\n"
            f'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX {" ".join(args)}"\n'
        )
