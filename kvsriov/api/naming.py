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
_QUALIFIED_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_DNS_SUBDOMAIN_MAX = 253
_QUALIFIED_NAME_MAX = 63
_HASH_LEN = 6


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:_HASH_LEN]


def nic_object_name(node: str, interface: str) -> str:
    """`<node>.<interface>` made a valid object name, e.g. `worker-1.em2`.

    Lowercased; characters outside `[a-z0-9.-]` become `-`; when anything was
    changed, or the name is too long (a node name alone may have 253 characters), a
    `-<hash>` of the original is appended so that distinct interfaces never share an object.
    """
    original = f"{node}.{interface}"
    mapped = _DNS_UNSAFE.sub("-", original.lower()).strip(".-")
    if mapped == original and len(mapped) <= _DNS_SUBDOMAIN_MAX:
        return mapped
    suffix = f"-{short_hash(original)}"
    return mapped[: _DNS_SUBDOMAIN_MAX - len(suffix)].rstrip(".-") + suffix


def _qualified_part(text: str, empty: str) -> str:
    """`text` as the name part of a qualified name, which is also a valid label value.

    apimachinery pkg/util/validation/validation.go (IsQualifiedName, IsValidLabelValue):
    alphanumerics, `-`, `_`, `.`, starting and ending alphanumeric, at most 63 characters.
    Other characters become `_`; when anything was changed or cut, a `_<hash>` of `text` is
    appended (`empty` stands in when nothing is left before it). Object names never contain
    `_`, so a hashed value never equals a name kept as it is.
    """
    mapped = _QUALIFIED_UNSAFE.sub("_", text).strip("_.-")
    if mapped == text and 0 < len(mapped) <= _QUALIFIED_NAME_MAX:
        return mapped
    suffix = f"_{short_hash(text)}"
    head = mapped[: _QUALIFIED_NAME_MAX - len(suffix)].rstrip("_.-")
    return f"{head or empty}{suffix}"


def resource_name(interface: str) -> str:
    """The extended resource for VFs of PFs named `interface`: `kvsriov.io/<interface>`.

    The part after the slash must be a qualified name (`_qualified_part`). Case is kept:
    resource names are case-sensitive and `em2` is the usual case.
    """
    return f"{RESOURCE_PREFIX}/{_qualified_part(interface, 'if')}"


def label_value(text: str) -> str:
    """The label value that stands for `text` (a node, interface or network name) in our labels
    and label selectors: `text` itself when it is a valid label value, else `_qualified_part`'s
    mapping (e.g. the first 56 characters and `_<hash>` for a 100-character object name).

    The API server refuses an object with a longer value (422) and a selector naming one (400),
    while object names may have up to 253 characters.
    """
    return _qualified_part(text, "v") if text else ""


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
    """`<l3>-vnic`; an L3 name too long for the suffix is cut and given a `-<hash>` of it."""
    name = f"{l3_name}{VNIC_NAD_SUFFIX}"
    if len(name) <= _DNS_SUBDOMAIN_MAX:
        return name
    suffix = f"-{short_hash(l3_name)}{VNIC_NAD_SUFFIX}"
    return l3_name[: _DNS_SUBDOMAIN_MAX - len(suffix)].rstrip(".-") + suffix


def vnic_bridge_name(interface: str) -> str:
    """The Linux bridge that carries the vNICs of PF `interface` (`br-em2`): at most 15 bytes
    (IFNAMSIZ); a longer PF name is cut and given a short hash so that two never share one."""
    name = f"br-{interface}"
    if len(name) <= _IFNAMSIZ_MAX:
        return name
    suffix = short_hash(interface)[:4]
    return f"br-{interface[: _IFNAMSIZ_MAX - 4 - len(suffix)]}-{suffix}"
