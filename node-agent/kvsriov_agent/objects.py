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


def not_own(obj: Obj, node: str) -> str | None:
    """Why the agent of `node` must leave this SriovPhysicalNic alone; None when it is the node's own.

    A NIC object is the node's when its name starts with `<node>.` (nic_object_name), its
    kvsriov.io/node label and its spec.nodeName all say `node`: the admission policy
    (deploy/*/node-restriction.yaml) refuses the agent's writes to any other, so adopting one
    would fail every pass. Someone else made it (another node's token, before the policy held
    all three; or by hand), and only its author or an administrator can fix it.
    """
    meta = obj.get("metadata") or {}
    name = str(meta.get("name", ""))
    label = (meta.get("labels") or {}).get(LABEL_NODE)
    spec_node = (obj.get("spec") or {}).get("nodeName")
    wrong = [
        *([f"its name does not start with {node}."] if not name.startswith(f"{node}.") else []),
        *([f"it is labelled {LABEL_NODE}={label}"] if label != node else []),
        *([f"its spec.nodeName is {spec_node}"] if spec_node != node else []),
    ]
    if not wrong:
        return None
    return (
        f"{name} is not node {node}'s NIC object ({'; '.join(wrong)}): the node agent of {node} "
        "neither adopts nor writes it; delete it (an administrator) so that the agent of the node "
        "it names creates its own"
    )


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
