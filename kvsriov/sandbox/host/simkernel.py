"""A kernel-like state machine behind a host tree: PCI SR-IOV, driver binding, VFIO groups.

Pure Python (no FUSE): `write()` and `read()` take root-relative paths and behave
like the kernel's sysfs store/show handlers the agent depends on (DESIGN §5):
- `sriov_numvfs` (drivers/pci/iov.c sriov_numvfs_store): above sriov_totalvfs -> ERANGE;
  the current count again -> no-op; no PF driver -> ENOENT; non-zero while another
  non-zero count is enabled -> EBUSY; more VFs than the IOV BAR window (the PF's `resource`
  file, IOV line) holds -> ENOMEM ("not enough MMIO resources for SR-IOV", sriov_enable());
  otherwise the PF driver adds/removes the VFs:
  `virtfnN` links on the PF, `physfn` on each VF, each VF in its own IOMMU group and
  bound to its default driver (a netdev driver registers `net/<ifname>`);
- `driver_override`, `drivers/<d>/bind|unbind`, `drivers_probe` (drivers/pci/pci-driver.c,
  drivers/base/bus.c): override restricts matching to that driver; vfio-pci matches only
  through it (no ID table of its own) and fails to probe without an IOMMU group;
- `/dev/vfio/<group>` exists exactly while a device of the group is bound to vfio-pci;
- unbinding a PF's driver runs its remove(): igb/ixgbe/i40e call pci_disable_sriov()
  (unless VFs carry PCI_DEV_FLAGS_ASSIGNED, which only legacy KVM/Xen assignment set,
  never vfio), so every VF device vanishes, `sriov_numvfs` reads 0 and the PF's netdev
  is unregistered. What stays for discovery: the PCI function, with `sriov_totalvfs`
  and no `driver` link. (On a real host vfio-pci's remove waits until the VM lets go.)
"""

from __future__ import annotations

import errno
import os
import posixpath
from dataclasses import dataclass, field

from kvsriov.sandbox.host.memfs import File, MemFs
from kvsriov.sandbox.host.tree import IOV_RESOURCE_LINE, VF_BAR_BYTES

PCI_ROOT = "sys/devices/pci0000:00"
DEVICES = "sys/bus/pci/devices"
DRIVERS = "sys/bus/pci/drivers"
VFIO = "vfio-pci"
#: Drivers that register a netdev when they bind.
NETDEV_DRIVERS = frozenset({"ixgbe", "ixgbevf", "igb", "igbvf", "e1000e", "i40e", "iavf", "ice"})
#: PF (vendor, device) -> VF device ID and the VF's own driver (pci.ids; the drivers' ID tables).
VF_MODELS = {
    ("8086", "10fb"): ("10ed", "ixgbevf"),  # 82599ES -> 82599 Virtual Function
    ("8086", "1521"): ("1520", "igbvf"),  # I350 -> I350 Virtual Function
    ("8086", "10c9"): ("10ca", "igbvf"),  # 82576 (QEMU igb) -> 82576 Virtual Function
    ("8086", "1572"): ("154c", "iavf"),  # X710 -> XL710/X710 Virtual Function
}
#: First VF routing-ID offset and stride (SR-IOV capability), as on 82576/82599: VFs at dev 0x10.
VF_OFFSET, VF_STRIDE = 0x80, 2


def _err(code: int, what: str) -> OSError:
    return OSError(code, os.strerror(code), what)


@dataclass
class PciFn:
    """One PCI function and what the kernel knows about it."""

    address: str
    vendor: str
    device: str
    default_driver: str | None
    driver: str | None = None
    override: str = ""
    ifname: str | None = None
    total_vfs: int | None = None
    vfs: list[str] = field(default_factory=list)
    physfn: str | None = None
    group: int | None = None
    #: VFs the IOV BAR window holds (the `resource` file's IOV line / a VF BAR); None: all of them.
    iov_window_vfs: int | None = None

    @property
    def dir(self) -> str:
        return f"{PCI_ROOT}/{self.address}"


class SimKernel:
    """The kernel's side of a host tree held in `fs` (loaded from a HostTree or built by hand)."""

    def __init__(self, fs: MemFs) -> None:
        self.fs = fs
        self.fns: dict[str, PciFn] = {}
        self.log: list[str] = []
        for address in fs.listdir(DEVICES) if fs.exists(DEVICES) else []:
            self._adopt(address)
        for driver in {VFIO} | {vf for _, vf in VF_MODELS.values()} | self._drivers():
            self._driver_dir(driver)
        fs.put("sys/bus/pci/drivers_probe", File(mode=0o200, on_write=self._drivers_probe))
        fs.mkdir("dev/vfio")
        fs.put("dev/vfio/vfio", File(mode=0o666))

    # -- reading the initial tree ------------------------------------------------------------

    def _attr(self, path: str) -> str | None:
        node = self.fs.lookup(path)
        return node.read().strip() if isinstance(node, File) else None

    def _link_name(self, path: str) -> str | None:
        node = self.fs.lookup(path, follow=False)
        return None if node is None else posixpath.basename(self.fs.resolve(path))

    def _drivers(self) -> set[str]:
        return set(self.fs.listdir(DRIVERS)) if self.fs.exists(DRIVERS) else set()

    def _adopt(self, address: str) -> None:
        base = f"{DEVICES}/{address}"
        total = self._attr(f"{base}/sriov_totalvfs")
        group = self._link_name(f"{base}/iommu_group")
        nets = self.fs.listdir(f"{base}/net") if self.fs.exists(f"{base}/net") else []
        driver = self._link_name(f"{base}/driver")
        fn = PciFn(
            address=address,
            vendor=(self._attr(f"{base}/vendor") or "").removeprefix("0x"),
            device=(self._attr(f"{base}/device") or "").removeprefix("0x"),
            default_driver=driver,
            driver=driver,
            ifname=nets[0] if nets else None,
            total_vfs=int(total) if total is not None else None,
            group=int(group) if group is not None else None,
            iov_window_vfs=self._iov_window_vfs(f"{base}/resource"),
        )
        self.fns[address] = fn
        self._attrs(fn)

    def _iov_window_vfs(self, path: str) -> int | None:
        """How many VF BARs fit the first IOV resource of a `resource` file (None: no such line)."""
        lines = (self._attr(path) or "").splitlines()
        if len(lines) <= IOV_RESOURCE_LINE:
            return None
        start, end, _ = (int(field, 16) for field in lines[IOV_RESOURCE_LINE].split())
        return (end - start + 1) // VF_BAR_BYTES if end else None

    def _attrs(self, fn: PciFn) -> None:
        self.fs.put(
            f"{fn.dir}/driver_override",
            File(
                on_read=lambda: (fn.override or "(null)") + "\n",
                on_write=lambda text: self._set_override(fn, text),
            ),
        )
        if fn.total_vfs is not None:
            self.fs.put(
                f"{fn.dir}/sriov_numvfs",
                File(on_read=lambda: f"{len(fn.vfs)}\n", on_write=lambda text: self._write_numvfs(fn, text)),
            )

    def _driver_dir(self, driver: str) -> None:
        self.fs.mkdir(f"{DRIVERS}/{driver}")
        self.fs.put(f"{DRIVERS}/{driver}/bind", File(mode=0o200, on_write=lambda t: self._bind(driver, t)))
        self.fs.put(
            f"{DRIVERS}/{driver}/unbind", File(mode=0o200, on_write=lambda t: self._unbind(driver, t))
        )

    # -- the file interface ------------------------------------------------------------------

    def read(self, path: str) -> str:
        node = self.fs.lookup(path)
        if node is None:
            raise _err(errno.ENOENT, path)
        if not isinstance(node, File):
            raise _err(errno.EISDIR, path)
        return node.read()

    def write(self, path: str, text: str) -> None:
        """A store: the handler's errno comes back to the writer, as from write(2) on sysfs."""
        node = self.fs.lookup(path)
        if node is None:
            raise _err(errno.ENOENT, path)
        if not isinstance(node, File):
            raise _err(errno.EISDIR, path)
        if node.on_write is not None:
            node.on_write(text)
        else:
            node.value = text

    # -- SR-IOV ------------------------------------------------------------------------------

    def _write_numvfs(self, pf: PciFn, text: str) -> None:
        try:
            count = int(text.strip(), 0)
        except ValueError:
            raise _err(errno.EINVAL, "sriov_numvfs") from None
        if count < 0 or count > (pf.total_vfs or 0):
            raise _err(errno.ERANGE, "sriov_numvfs")
        if count == len(pf.vfs):
            return
        if pf.driver is None:
            self.log.append(f"pci {pf.address}: no driver bound to device; cannot configure SR-IOV")
            raise _err(errno.ENOENT, "sriov_numvfs")
        if count == 0:
            self._disable_sriov(pf)
            return
        if pf.vfs:
            self.log.append(
                f"pci {pf.address}: {len(pf.vfs)} VFs already enabled. Disable before enabling {count} VFs"
            )
            raise _err(errno.EBUSY, "sriov_numvfs")
        if pf.iov_window_vfs is not None and count > pf.iov_window_vfs:
            # sriov_enable(): vf_bar_sz * nr_virtfn > resource_size(res) leaves the BAR uncounted.
            self.log.append(f"pci {pf.address}: not enough MMIO resources for SR-IOV")
            raise _err(errno.ENOMEM, "sriov_numvfs")
        self._enable_sriov(pf, count)

    def _vf_address(self, pf: PciFn, index: int) -> str:
        domain_bus, devfn = pf.address.rsplit(":", 1)
        slot, func = devfn.split(".")
        routing = (int(slot, 16) << 3 | int(func)) + VF_OFFSET + index * VF_STRIDE
        return f"{domain_bus}:{routing >> 3:02x}.{routing & 7}"

    def _new_group(self) -> int:
        groups = "sys/kernel/iommu_groups"
        used = set(self.fs.listdir(groups)) if self.fs.exists(groups) else set()
        number = 0
        while str(number) in used:
            number += 1  # the kernel's IDA hands out the lowest free ID
        self.fs.mkdir(f"sys/kernel/iommu_groups/{number}/devices")
        return number

    def _enable_sriov(self, pf: PciFn, count: int) -> None:
        vf_device, vf_driver = VF_MODELS.get((pf.vendor, pf.device), (pf.device, None))
        has_iommu = pf.group is not None
        for index in range(count):
            vf = PciFn(self._vf_address(pf, index), pf.vendor, vf_device, vf_driver, physfn=pf.address)
            self.fns[vf.address] = vf
            self.fs.mkdir(vf.dir)
            self.fs.put(f"{vf.dir}/vendor", File(f"0x{vf.vendor}\n", 0o444))
            self.fs.put(f"{vf.dir}/device", File(f"0x{vf.device}\n", 0o444))
            self.fs.link(f"{vf.dir}/subsystem", "sys/bus/pci")
            self.fs.link(f"{DEVICES}/{vf.address}", vf.dir)
            self.fs.link(f"{vf.dir}/physfn", pf.dir)
            # A VF sits on its PF's bus, so the PCI core gives it the PF's NUMA node.
            self.fs.put(
                f"{vf.dir}/numa_node", File((self._attr(f"{pf.dir}/numa_node") or "-1") + "\n", 0o444)
            )
            self.fs.link(f"{pf.dir}/virtfn{index}", vf.dir)
            if has_iommu:
                vf.group = self._new_group()
                group_dir = f"sys/kernel/iommu_groups/{vf.group}"
                self.fs.link(f"{vf.dir}/iommu_group", group_dir)
                self.fs.link(f"{group_dir}/devices/{vf.address}", vf.dir)
            self._attrs(vf)
            pf.vfs.append(vf.address)
            self._probe(vf)

    def _disable_sriov(self, pf: PciFn) -> None:
        for index, address in enumerate(pf.vfs):
            vf = self.fns.pop(address)
            if vf.driver is not None:
                self._detach(vf)
            if vf.group is not None:
                self.fs.remove(f"sys/kernel/iommu_groups/{vf.group}")
            self.fs.remove(f"{pf.dir}/virtfn{index}")
            self.fs.remove(f"{DEVICES}/{address}")
            self.fs.remove(vf.dir)
        pf.vfs = []

    # -- driver binding ----------------------------------------------------------------------

    def _fn(self, text: str, code: int = errno.ENODEV) -> PciFn:
        fn = self.fns.get(text.strip())
        if fn is None:
            raise _err(code, text.strip())
        return fn

    def _matches(self, fn: PciFn, driver: str) -> bool:
        """driver_override names the only driver that may match; vfio-pci matches only through it."""
        if fn.override:
            return fn.override == driver
        return driver == fn.default_driver and driver != VFIO

    def _set_override(self, fn: PciFn, text: str) -> None:
        fn.override = text.strip()

    def _bind(self, driver: str, text: str) -> None:
        fn = self._fn(text)
        if fn.driver is not None:
            raise _err(errno.EBUSY, fn.address)
        if not self._matches(fn, driver):
            raise _err(errno.ENODEV, fn.address)
        if not self._attach(fn, driver):
            raise _err(errno.EINVAL, fn.address)

    def _unbind(self, driver: str, text: str) -> None:
        fn = self._fn(text)
        if fn.driver != driver:
            raise _err(errno.ENODEV, fn.address)
        self._detach(fn)

    def _drivers_probe(self, text: str) -> None:
        self._probe(self._fn(text, errno.EINVAL))

    def _probe(self, fn: PciFn) -> None:
        """device_attach(): nothing when bound; a failed probe is not an error for the writer."""
        if fn.driver is not None:
            return
        for driver in sorted(self._drivers()):
            if self._matches(fn, driver) and self._attach(fn, driver):
                return

    def _attach(self, fn: PciFn, driver: str) -> bool:
        if driver == VFIO and fn.group is None:
            self.log.append(f"vfio-pci {fn.address}: probe with driver vfio-pci failed with error -22")
            return False
        fn.driver = driver
        self.fs.link(f"{fn.dir}/driver", f"{DRIVERS}/{driver}")
        self.fs.link(f"{DRIVERS}/{driver}/{fn.address}", fn.dir)
        if driver == VFIO:
            self.fs.put(f"dev/vfio/{fn.group}", File(mode=0o600))
        elif driver in NETDEV_DRIVERS:
            pf = self.fns.get(fn.physfn or "")
            if fn.ifname is None:
                index = pf.vfs.index(fn.address) if pf and fn.address in pf.vfs else len(self.fns)
                fn.ifname = f"{pf.ifname}v{index}" if pf and pf.ifname else f"eth{index}"
            self._netdev(fn)
        return True

    def _netdev(self, fn: PciFn) -> None:
        netdir = f"{fn.dir}/net/{fn.ifname}"
        self.fs.mkdir(netdir)
        self.fs.link(f"{netdir}/device", fn.dir)
        speed = "-1" if fn.physfn else "10000"  # a VF's netdev reports no speed of its own
        for name, value in (("operstate", "up"), ("carrier", "1"), ("speed", speed)):
            self.fs.put(f"{netdir}/{name}", File(value + "\n", 0o444))
        self.fs.link(f"sys/class/net/{fn.ifname}", netdir)

    def _detach(self, fn: PciFn) -> None:
        """The driver's remove(): a PF driver disables SR-IOV first (see the module docstring)."""
        if fn.vfs:
            self._disable_sriov(fn)
        driver = fn.driver
        if fn.ifname and self.fs.exists(f"{fn.dir}/net/{fn.ifname}"):
            self.fs.remove(f"sys/class/net/{fn.ifname}")
            self.fs.remove(f"{fn.dir}/net")
        if driver == VFIO:
            self.fs.remove(f"dev/vfio/{fn.group}")
        self.fs.remove(f"{fn.dir}/driver")
        self.fs.remove(f"{DRIVERS}/{driver}/{fn.address}")
        fn.driver = None
