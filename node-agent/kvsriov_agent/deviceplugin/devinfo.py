"""The NPWG "Device Information" file a device plugin writes for each allocated device.

Spec: k8snetworkplumbingwg/device-info-spec (v1.1.0). Multus reads it when the pod's
network is attached and copies it into the pod's `k8s.v1.cni.cncf.io/network-status`
entry as `device-info`; KubeVirt's virt-controller copies that into the launcher pod's
`kubevirt.io/network-info` annotation (there its key is `deviceInfo`), and virt-launcher
reads each SR-IOV VM NIC's VF from that file only, /etc/podinfo/network-info (kubevirt
pkg/network/downwardapi, pkg/virt-launcher/virtwrap/device/hostdevice/sriov/hostdev.go;
kubevirt PR 14919 removed its PCIDEVICE_* fallback). So without this file no VM gets its VF.
Conventions as implemented by network-attachment-definition-client pkg/utils/net-attach-def.go
(which Multus uses): directory /var/run/k8s.cni.cncf.io/devinfo/dp (baseDevInfoPath +
dpDevInfoSubDir), file `<resourceName with / -> ->-<deviceID with / -> ->-device.json`
(getDPDeviceInfoPath; both in kvsriov/api/naming.py, which `kvsriov demo` reads them by too),
written once, mode 0444 (saveDeviceInfo); JSON per
pkg/apis/k8s.cni.cncf.io/v1/types.go: {"type": "pci", "version": "1.1.0",
"pci": {"pci-address": ..., "pf-pci-address": ...}}.

The VFIO group (issue 6) is one more key in "pci", "vfio-group" (the IOMMU group number,
as /dev/vfio/<group> and sysfs iommu_group name it), written for vfio-pci VFs only. The
spec's PciDevice has no such field (pci-address, vhost-net, rdma-device, pf-pci-address,
representor-device), so it is an extension: Multus decodes the file with Go's
encoding/json into that struct, which ignores unknown keys, so network-status
(`device-info.pci.pci-address`) and KubeVirt's network-info are unchanged, while whoever
reads the file on the node sees which group the pod was given.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from kvsriov.api.naming import DEVINFO_SUFFIX, devinfo_file_name, devinfo_prefix

VERSION = "1.1.0"


def write(directory: Path, resource: str, device_id: str, pf_pci: str, vfio_group: str | None = None) -> Path:
    """Write (replace) the file atomically: Multus may read it at any moment."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / devinfo_file_name(resource, device_id)
    pci = {"pci-address": device_id, "pf-pci-address": pf_pci}
    if vfio_group is not None:
        pci["vfio-group"] = vfio_group
    body = {"type": "pci", "version": VERSION, "pci": pci}
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)  # read-only once written: O_TRUNC would be refused
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)  # 0444 like saveDeviceInfo
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(body))
    tmp.replace(path)
    return path


def remove(directory: Path, resource: str, device_id: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        (directory / devinfo_file_name(resource, device_id)).unlink()


def existing(directory: Path, resource: str) -> dict[str, float]:
    """Device ID -> mtime of the files already there for `resource` (left by a previous agent run)."""
    prefix = devinfo_prefix(resource)
    found: dict[str, float] = {}
    if directory.is_dir():
        for path in directory.iterdir():
            if path.name.startswith(prefix) and path.name.endswith(DEVINFO_SUFFIX):
                found[path.name[len(prefix) : -len(DEVINFO_SUFFIX)]] = path.stat().st_mtime
    return found
