"""The two kinds the agent writes, as wire dicts: paths, new objects, and status patches.

Status is compared in its normalised wire form before writing, so an
unchanged host produces no PATCH at all (no resourceVersion churn, no watch
events for every other watcher, nothing to wake the operator).
"""

from __future__ import annotations

from typing import Any

from kvsriov.api.constants import API_VERSION, GROUP, LABEL_INTERFACE, LABEL_NODE, VERSION
from kvsriov.api.host import SriovHostStatus
from kvsriov.api.kinds import HOST_KIND, HOST_PLURAL, NIC_KIND, NIC_PLURAL
from kvsriov.api.naming import label_value, nic_object_name
from kvsriov.api.nic import SriovPhysicalNicStatus, VfDriver
from kvsriov_agent.kube.client import Obj, ResourcePath

HOSTS = ResourcePath(GROUP, VERSION, HOST_PLURAL)
NICS = ResourcePath(GROUP, VERSION, NIC_PLURAL)


def new_host(node: str) -> Obj:
    return {"apiVersion": API_VERSION, "kind": HOST_KIND, "metadata": {"name": node}, "spec": {}}


def adopted_driver(status: SriovPhysicalNicStatus) -> VfDriver:
    """What the VFs found on the host are bound to: netdevice when any is on a kernel net driver."""
    drivers = {vf.driver for vf in status.vfs if vf.driver}
    return "netdevice" if drivers - {"vfio-pci"} else "vfio-pci"


def new_nic(node: str, status: SriovPhysicalNicStatus) -> Obj:
    """A NIC object adopting what is there: numVfs and vfDriver as found, so nothing changes."""
    ifname = status.interface or ""
    return {
        "apiVersion": API_VERSION,
        "kind": NIC_KIND,
        "metadata": {
            "name": nic_object_name(node, ifname),
            "labels": {LABEL_NODE: label_value(node), LABEL_INTERFACE: label_value(ifname)},
        },
        "spec": {
            "nodeName": node,
            "interface": ifname,
            "numVfs": status.num_vfs,
            "vfDriver": adopted_driver(status),
        },
    }


def host_status(obj: Obj) -> SriovHostStatus | None:
    raw = obj.get("status")
    return SriovHostStatus.model_validate(raw) if raw else None


def nic_status(obj: Obj) -> SriovPhysicalNicStatus | None:
    raw = obj.get("status")
    return SriovPhysicalNicStatus.model_validate(raw) if raw else None


def status_patch(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any] | None:
    """A merge patch from `old` to `new` status, or None when they are equal.

    Keys that disappeared are set to null: a merge patch keeps what it does not mention.
    """
    old = old or {}
    if old == new:
        return None
    patch: dict[str, Any] = dict(new)
    for key in old.keys() - new.keys():
        patch[key] = None
    return {"status": patch}
