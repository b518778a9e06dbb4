"""Module options: spec.allowUnsafeInterrupts (DESIGN §2b SriovHost, §4).

vfio_iommu_type1 refuses VFIO_SET_IOMMU with EPERM on a host without
interrupt remapping unless its `allow_unsafe_interrupts` parameter is set.
The option file makes it survive a reboot (modprobe reads /etc/modprobe.d/*.conf
when it loads the module); the parameter is also writable at run time
(/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts, mode 0644),
so a loaded module changes now, without a reload.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from kvsriov_agent.host import paths

#: Our own file: the administrator's modprobe.d files are never edited.
CONF: Final = "etc/modprobe.d/kvsriov.conf"
#: What a live parameter goes back to when our option is removed (the module's default).
LIVE_DEFAULTS: Final = {("vfio_iommu_type1", "allow_unsafe_interrupts"): "0"}
_HEADER = "# Written by the kvsriov node agent (SriovHost spec.allowUnsafeInterrupts).\n"


class FileModprobe:
    """The Modprobe protocol: the option file under `root`, live parameters under `sys_root`.

    Two roots because a read-only host root (the QEMU test bed) still has a writable /sys.
    """

    def __init__(self, root: Path = Path("/"), sys_root: Path | None = None) -> None:
        self.conf = Path(root) / CONF
        self.sys = Path(sys_root) if sys_root is not None else Path(root) / paths.SYS

    def _lines(self) -> dict[str, dict[str, str]]:
        try:
            text = self.conf.read_text()
        except OSError:
            return {}
        result: dict[str, dict[str, str]] = {}
        for line in text.splitlines():
            words = line.split()
            if len(words) >= 2 and words[0] == "options":
                opts = dict(w.split("=", 1) for w in words[2:] if "=" in w)
                result.setdefault(words[1], {}).update(opts)
        return result

    def options(self, module: str) -> dict[str, str]:
        return self._lines().get(module, {})

    def _param(self, module: str, name: str) -> Path:
        return self.sys / paths.SYS_MODULE / module / "parameters" / name

    def parameter(self, module: str, name: str) -> str | None:
        try:
            return self._param(module, name).read_text().strip()
        except OSError:
            return None

    def set_options(self, module: str, options: dict[str, str]) -> None:
        modules = self._lines()
        removed = set(modules.get(module, {})) - set(options)
        if options:
            modules[module] = dict(options)
        else:
            modules.pop(module, None)
        if modules:
            self.conf.parent.mkdir(parents=True, exist_ok=True)
            body = "".join(
                f"options {mod} {' '.join(f'{k}={v}' for k, v in sorted(opts.items()))}\n"
                for mod, opts in sorted(modules.items())
            )
            self.conf.write_text(_HEADER + body)
        else:
            self.conf.unlink(missing_ok=True)
        # Live: only while the module is loaded (its /sys/module/<m>/parameters exists).
        for name, value in options.items():
            if self._param(module, name).exists():
                self._param(module, name).write_text(value)
        for name in removed:
            default = LIVE_DEFAULTS.get((module, name))
            if default is not None and self._param(module, name).exists():
                self._param(module, name).write_text(default)
