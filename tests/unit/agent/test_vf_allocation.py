"""One read of each VF's sysfs facts per pass, and the one rule for free VFs (allocation.py)."""

from __future__ import annotations

from collections import Counter

from agent_helpers import make_host

from kvsriov.api.nic import SriovPhysicalNicSpec
from kvsriov.sandbox.host.tree import HostTree
from kvsriov_agent.allocation import AllocationView, show_allocation, unallocated
from kvsriov_agent.deviceplugin.devices import observe_devices
from kvsriov_agent.discovery import describe_nic, observe_nic
from kvsriov_agent.host.bundle import Host
from kvsriov_agent.host.files import FileDevFs, FileSysfs

VFS = ["0000:03:10.0", "0000:03:10.2", "0000:03:10.4"]


class CountingSysfs(FileSysfs):
    """The agent's file-based sysfs, counting what is read (a Sysfs implementation, not a patch)."""

    def __init__(self, tree: HostTree) -> None:
        super().__init__(tree.root)
        self.reads: Counter[str] = Counter()

    def read(self, path: str) -> str | None:
        self.reads[path] += 1
        return super().read(path)

    def readlink(self, path: str) -> str | None:
        self.reads[path] += 1
        return super().readlink(path)


def test_discovery_and_the_device_plugin_read_each_vf_fact_once(ref_tree: HostTree) -> None:
    ref_tree.vfs("0000:03:00.0", VFS, "8086", "10ed", "vfio-pci")
    for vf in VFS:  # vfio-pci's group nodes
        group = (ref_tree.sys / "bus/pci/devices" / vf / "iommu_group").resolve().name
        ref_tree.write(f"dev/vfio/{group}", "")
    sysfs = CountingSysfs(ref_tree)
    base = make_host(ref_tree)
    host = Host(
        sysfs, base.procfs, base.kernel_log, base.netlink, base.pci_ids, devfs=FileDevFs(ref_tree.root)
    )
    observed = observe_nic(host, "node-1", "em1")
    spec = SriovPhysicalNicSpec(node_name="node-1", interface="em1", num_vfs=3, vf_driver="vfio-pci")
    table = observe_devices(observed.status, observed.vfs, spec.num_vfs, spec.vf_driver, {})
    assert [d.healthy for d in table.values()] == [True, True, True]
    for vf in VFS:
        for fact in ("driver", "iommu_group", "numa_node"):
            assert sysfs.reads[f"bus/pci/devices/{vf}/{fact}"] == 1, (vf, fact)


def test_allocated_vfs_are_not_free_and_the_nic_is_in_use(ref_tree: HostTree) -> None:
    ref_tree.vfs("0000:03:00.0", VFS, "8086", "10ed", "ixgbevf")
    status = observe_nic(make_host(ref_tree), "node-1", "em1").status
    show_allocation(status, AllocationView(frozenset(VFS[:2]), {VFS[0]: "vms/vm1"}))
    assert [(vf.allocated, vf.owner) for vf in status.vfs] == [
        (True, "vms/vm1"),
        (False, None),
        (False, None),
    ]
    assert (status.vfs_available, status.vfs_summary, status.state) == (1, "1/3", "InUse")


def test_without_a_device_plugin_every_vf_on_a_driver_is_free(ref_tree: HostTree) -> None:
    ref_tree.vfs("0000:03:00.0", VFS, "8086", "10ed", "ixgbevf")
    status = describe_nic(make_host(ref_tree), "node-1", "em1")
    assert (status.vfs_available, status.vfs_summary, status.state) == (3, "3/3", "Virtualized")
    assert unallocated(status).healthy == frozenset(VFS)
