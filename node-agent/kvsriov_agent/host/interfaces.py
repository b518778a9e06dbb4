"""One narrow interface per kernel concern (DESIGN §2: host access with a root path).

Each method's docstring gives the shell command it stands for. Real
implementations live beside this module and take their root in the
constructor; the simulated host (kvsriov.sandbox.host) implements the same
protocols, and nothing ever patches a module to fake the host. The values the
protocols answer with (LinkInfo, VfInfo) live in kvsriov/hosttypes.py, which both
sides import: the simulated host mirrors the kernel and never imports the agent.
"""

from __future__ import annotations

from typing import Protocol

from kvsriov.hosttypes import LinkInfo, VfInfo


class Sysfs(Protocol):
    """sysfs (/sys). Paths are relative to its mount point, e.g. `class/net/em1/carrier`."""

    def read(self, path: str) -> str | None:
        """`cat /sys/PATH`, stripped; None when absent or refused (e.g. `speed` of a down link: EINVAL)."""
        ...

    def write(self, path: str, value: str) -> None:
        """`echo VALUE > /sys/PATH`; raises the kernel's OSError (EBUSY, EINVAL...) unchanged."""
        ...

    def listdir(self, path: str) -> list[str]:
        """`ls /sys/PATH`, sorted; empty when the directory does not exist."""
        ...

    def readlink(self, path: str) -> str | None:
        """`readlink /sys/PATH`; None when PATH is not a symlink."""
        ...

    def resolve(self, path: str) -> str | None:
        """`realpath --relative-to=/sys /sys/PATH`; None when PATH does not exist."""
        ...

    def exists(self, path: str) -> bool:
        """`test -e /sys/PATH` (follows symlinks)."""
        ...


class ProcFs(Protocol):
    """procfs (/proc)."""

    def cmdline(self) -> list[str]:
        """`cat /proc/cmdline`, split into arguments: what the running kernel was booted with."""
        ...

    def modules(self) -> list[str]:
        """`cut -d' ' -f1 /proc/modules`: names of the loaded modules."""
        ...


class KernelLog(Protocol):
    """The kernel's printk buffer: the only place some probe results are printed."""

    def lines(self) -> list[str]:
        """`dmesg` (or `cat /dev/kmsg` without blocking): the messages still in the ring buffer."""
        ...


class Netlink(Protocol):
    """rtnetlink in the agent's network namespace (host/netlink.py)."""

    def link(self, ifname: str) -> LinkInfo | None:
        """`ip link show IFNAME`; None when no such interface."""
        ...

    def vfs(self, ifname: str) -> list[VfInfo]:
        """`ip link show IFNAME` VF lines (IFLA_VFINFO_LIST): mac, vlan/qos, spoofchk, trust and link
        state per VF; empty without VFs."""
        ...

    def set_vf(
        self,
        ifname: str,
        index: int,
        mac: str | None = None,
        vlan: int | None = None,
        spoofchk: bool | None = None,
        trust: bool | None = None,
        qos: int | None = None,
        link_state: str | None = None,
    ) -> None:
        """`ip link set IFNAME vf INDEX [mac M] [vlan V [qos Q]] [spoofchk on|off] [trust on|off]
        [state auto|enable|disable]` (RTM_SETLINK with IFLA_VFINFO_LIST): the PF driver enforces these
        on the VF; None leaves a setting as is (qos goes with vlan). Raises the kernel's OSError
        (EOPNOTSUPP when the PF driver lacks that setting, e.g. igb has no link state)."""
        ...


class DevFs(Protocol):
    """devtmpfs (/dev). Paths are relative to its mount point, e.g. `vfio/12`."""

    def exists(self, path: str) -> bool:
        """`test -e /dev/PATH`: e.g. the VFIO group node that vfio-pci creates per IOMMU group."""
        ...


# spec.configureKernelArgs and spec.allowUnsafeInterrupts: implemented in boot.py and modprobe.py.


class BootConfig(Protocol):
    """The boot loader's configuration (a drop-in, never the main file)."""

    def loader(self) -> str | None:
        """`ls /etc/default/grub /etc/kernel/cmdline`: the boot loader found ("grub", "kernel-install")
        or None when none we know of."""
        ...

    def kernel_args(self) -> list[str]:
        """`cat /etc/default/grub.d/kvsriov.cfg`: the arguments our drop-in adds."""
        ...

    def set_kernel_args(self, args: list[str]) -> None:
        """`printf 'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX ARGS"' > /etc/default/grub.d/kvsriov.cfg`."""
        ...


class Modprobe(Protocol):
    """modprobe.d options and live module parameters."""

    def options(self, module: str) -> dict[str, str]:
        """`grep '^options MODULE' /etc/modprobe.d/kvsriov.conf`."""
        ...

    def set_options(self, module: str, options: dict[str, str]) -> None:
        """`echo 'options MODULE K=V' > /etc/modprobe.d/kvsriov.conf` (empty removes the line), and
        `echo V > /sys/module/MODULE/parameters/K` while the module is loaded."""
        ...

    def parameter(self, module: str, name: str) -> str | None:
        """`cat /sys/module/MODULE/parameters/NAME` (bools read Y/N); None when not loaded."""
        ...
