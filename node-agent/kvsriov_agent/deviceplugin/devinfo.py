"""The NPWG "Device Information" file a device plugin writes for each allocated device.

Spec: k8snetworkplumbingwg/device-info-spec (v1.1.0). Multus reads it when the pod's
network is attached and copies it into the pod's `k8s.v1.cni.cncf.io/network-status`
as `deviceInfo`; KubeVirt's virt-launcher maps each SR-IOV VM NIC to its VF by that
PCI address (network-info) instead of guessing from PCIDEVICE_* order.
Conventions as implemented by network-attachment-definition-client pkg/utils/net-attach-def.go
(which Multus uses): directory /var/run/k8s.cni.cncf.io/devinfo/dp (baseDevInfoPath +
dpDevInfoSubDir), file `<resourceName with / -> ->-<deviceID with / -> ->-device.json`
(getDPDeviceInfoPath), written once, mode 0444 (saveDeviceInfo); JSON per
pkg/apis/k8s.cni.cncf.io/v1/types.go: {"type": "pci", "version": "1.1.0",
"pci": {"pci-address": ..., "pf-pci-address": ...}}.

No VFIO group, although issue 6 asks for one: the spec's "pci" type (PciDevice in
that types.go) has exactly pci-address, vhost-net, rdma-device and pf-pci-address.
An extra key would be outside the spec, and the readers would drop it anyway: Multus
unmarshals the file into that DeviceInfo struct for network-status, and KubeVirt maps
VM NICs by deviceInfo.pci.pci-address alone. The group reaches the pod through Allocate's
DeviceSpecs (/dev/vfio/<group>, plugin.py), and the PCI address written here is enough
to find it (/sys/bus/pci/devices/<addr>/iommu_group).
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

DEFAULT_DIR = "/var/run/k8s.cni.cncf.io/devinfo/dp"
VERSION = "1.1.0"
SUFFIX = "-device.json"


def file_name(resource: str, device_id: str) -> str:
    return f"{resource.replace('/', '-')}-{device_id.replace('/', '-')}{SUFFIX}"


def write(directory: Path, resource: str, device_id: str, pf_pci: str) -> Path:
    """Write (replace) the file atomically: Multus may read it at any moment."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / file_name(resource, device_id)
    body = {"type": "pci", "version": VERSION, "pci": {"pci-address": device_id, "pf-pci-address": pf_pci}}
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)  # read-only once written: O_TRUNC would be refused
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)  # 0444 like saveDeviceInfo
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(body))
    tmp.replace(path)
    return path


def remove(directory: Path, resource: str, device_id: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        (directory / file_name(resource, device_id)).unlink()


def existing(directory: Path, resource: str) -> dict[str, float]:
    """Device ID -> mtime of the files already there for `resource` (left by a previous agent run)."""
    prefix = f"{resource.replace('/', '-')}-"
    found: dict[str, float] = {}
    if directory.is_dir():
        for path in directory.iterdir():
            if path.name.startswith(prefix) and path.name.endswith(SUFFIX):
                found[path.name[len(prefix) : -len(SUFFIX)]] = path.stat().st_mtime
    return found
