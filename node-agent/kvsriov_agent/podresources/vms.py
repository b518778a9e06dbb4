"""Map a virt-launcher pod to the KubeVirt VM it runs.

KubeVirt labels every virt-launcher pod (pkg/virt-controller/services/template.go):
`kubevirt.io: virt-launcher`, `kubevirt.io/created-by: <VMI uid>`,
`vm.kubevirt.io/name: <VMI name>` (newer releases), `kubevirt.io/domain: <VMI name>`,
and its controller ownerReference is the VirtualMachineInstance (named like its VM).
A VM and its VMI share name and namespace, so any of these gives the VM.
"""

from __future__ import annotations

from typing import Any

LABEL_VM_NAME = "vm.kubevirt.io/name"
LABEL_DOMAIN = "kubevirt.io/domain"
LABEL_COMPONENT = "kubevirt.io"
VIRT_LAUNCHER = "virt-launcher"


def vm_of_pod(pod: dict[str, Any] | None, namespace: str, name: str) -> str:
    """`VM namespace/name` when the pod is a virt-launcher, else `pod namespace/name`.

    Without the pod object (deleted meanwhile, or no read access) the pod is named:
    the guard still refuses, it just cannot say which VM.
    """
    meta = (pod or {}).get("metadata", {})
    labels = meta.get("labels") or {}
    vm = labels.get(LABEL_VM_NAME) or labels.get(LABEL_DOMAIN)
    if not vm:
        owners = meta.get("ownerReferences") or []
        vm = next((o.get("name") for o in owners if o.get("kind") == "VirtualMachineInstance"), None)
    if vm:
        return f"VM {namespace}/{vm}"
    return f"pod {namespace}/{name}"
