"""Map a virt-launcher pod to the KubeVirt VM it runs (for the agent's in-use messages).

By KubeVirt's own identity (kvsriov/kubevirt/launcher.py): the pod's controller
ownerReference is the VirtualMachineInstance, named like its VM; without it (an owner
stripped by hand), the `kubevirt.io/domain` annotation. Not the `vm.kubevirt.io/name`
label: it is deprecated and holds the sanitized host name, wrong when the VM sets
spec.hostname (pkg/virt-controller/services/template.go).
"""

from __future__ import annotations

from typing import Any

from kvsriov.kubevirt import launcher


def vm_of_pod(pod: dict[str, Any] | None, namespace: str, name: str) -> str:
    """`VM namespace/name` when the pod is a virt-launcher, else `pod namespace/name`.

    Without the pod object (deleted meanwhile, or no read access) the pod is named:
    the guard still refuses, it just cannot say which VM.
    """
    body = pod or {}
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    vm = launcher.vmi_name_of(body) or (
        annotations.get(launcher.ANNOTATION_DOMAIN) if launcher.is_launcher(body) else None
    )
    if vm:
        return f"VM {namespace}/{vm}"
    return f"pod {namespace}/{name}"
