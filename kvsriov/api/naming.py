"""Names derived from node and interface names, and the names peers derive from ours.

Interface names are chosen by the kernel, udev or an administrator and may hold
characters that an object name (DNS subdomain, RFC 1123) or an extended
resource name (a qualified name) cannot. Both mappings are deterministic, so
every node computes the same name for the same interface, and they add a short
hash of the original whenever characters had to be mapped: `eth_0` and `eth-0`
must not collide.

The names peers compute from a resource name follow the peer's rule: the
PCIDEVICE_* variable (DPDK pods, KubeVirt before it read network-info) and the NPWG
device-info file (Multus, and through it KubeVirt), which the
agent's device plugin writes and `kvsriov demo` reads back.
"""

from __future__ import annotations

import hashlib
import re

from kvsriov.api.constants import RESOURCE_PREFIX

_DNS_UNSAFE = re.compile(r"[^a-z0-9.-]")
_RESOURCE_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_DNS_SUBDOMAIN_MAX = 253
_QUALIFIED_NAME_MAX = 63
_HASH_LEN = 6


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:_HASH_LEN]


def nic_object_name(node: str, interface: str) -> str:
    """`<node>.<interface>` made a valid object name, e.g. `worker-1.em2`.

    Lowercased; characters outside `[a-z0-9.-]` become `-`; when anything was
    changed a `-<hash>` of the original is appended so that distinct interfaces
    never share an object.
    """
    original = f"{node}.{interface}"
    mapped = _DNS_UNSAFE.sub("-", original.lower()).strip(".-")
    if mapped == original:
        return mapped
    suffix = f"-{short_hash(original)}"
    return mapped[: _DNS_SUBDOMAIN_MAX - len(suffix)].rstrip(".-") + suffix


def resource_name(interface: str) -> str:
    """The extended resource for VFs of PFs named `interface`: `kvsriov.io/<interface>`.

    The part after the slash must be a qualified name (alphanumerics, `-`, `_`,
    `.`, starting and ending alphanumeric, at most 63 characters). Other
    characters become `_`; when anything was changed a `_<hash>` is appended.
    Case is kept: resource names are case-sensitive and `em2` is the usual case.
    """
    mapped = _RESOURCE_UNSAFE.sub("_", interface).strip("_.-")
    if mapped == interface and 0 < len(mapped) <= _QUALIFIED_NAME_MAX:
        return f"{RESOURCE_PREFIX}/{mapped}"
    suffix = f"_{short_hash(interface)}"
    head = mapped[: _QUALIFIED_NAME_MAX - len(suffix)].rstrip("_.-")
    return f"{RESOURCE_PREFIX}/{head}{suffix}" if head else f"{RESOURCE_PREFIX}/if{suffix}"


def pcidevice_env_name(resource: str) -> str:
    """The variable a device plugin sets for a resource's PCI addresses (read by DPDK pods and
    by KubeVirt releases before PR 14919; current KubeVirt reads network-info instead).

    `PCIDEVICE_` + the resource name upper-cased with `.` and `/` turned into `_`
    (the SR-IOV device plugin's convention).
    """
    return "PCIDEVICE_" + resource.upper().replace(".", "_").replace("/", "_")


#: Where device plugins write NPWG device-information files (k8snetworkplumbingwg/device-info-spec
#: v1.1.0): baseDevInfoPath + dpDevInfoSubDir of network-attachment-definition-client
#: pkg/utils/net-attach-def.go, which Multus uses to find them.
DEVINFO_DIR = "/var/run/k8s.cni.cncf.io/devinfo/dp"
DEVINFO_SUFFIX = "-device.json"


def devinfo_prefix(resource: str) -> str:
    """How every device-info file name of `resource` starts: the name with `/` as `-`, then `-`."""
    return f"{resource.replace('/', '-')}-"


def devinfo_file_name(resource: str, device_id: str) -> str:
    """The device-info file of one allocated device, e.g. `kvsriov.io-em1-0000:03:10.0-device.json`.

    `<resource>-<device ID>-device.json` with each `/` as `-` (getDPDeviceInfoPath in
    net-attach-def.go): fixed, because the plugin writes it and Multus reads it and neither
    passes the name to the other.
    """
    return f"{devinfo_prefix(resource)}{device_id.replace('/', '-')}{DEVINFO_SUFFIX}"


#: The vNIC NAD of an L3 network is named after it with this suffix (`l3-vlan100-vnic`).
VNIC_NAD_SUFFIX = "-vnic"
_IFNAMSIZ_MAX = 15


def vnic_nad_name(l3_name: str) -> str:
    return f"{l3_name}{VNIC_NAD_SUFFIX}"


def vnic_bridge_name(interface: str) -> str:
    """The Linux bridge that carries the vNICs of PF `interface` (`br-em2`): at most 15 bytes
    (IFNAMSIZ); a longer PF name is cut and given a short hash so that two never share one."""
    name = f"br-{interface}"
    if len(name) <= _IFNAMSIZ_MAX:
        return name
    suffix = short_hash(interface)[:4]
    return f"br-{interface[: _IFNAMSIZ_MAX - 4 - len(suffix)]}-{suffix}"
