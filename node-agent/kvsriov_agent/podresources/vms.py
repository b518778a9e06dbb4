"""Name the KubeVirt VM behind a pod that holds a VF (for the agent's in-use messages).

From what the kubelet's PodResources API says of the pod, its namespace and name, by KubeVirt's
launcher naming (kvsriov/kubevirt/launcher.py: vmi_name_of_pod_name): the agent reads no pod
objects, so it needs no permission to read the pods of other nodes (RBAC cannot limit a read
to one node's pods; see README "Install"). The VM is named like its VMI.
"""

from __future__ import annotations

from kvsriov.kubevirt import launcher


def vm_of_pod(namespace: str, name: str) -> str:
    """`VM namespace/name` when the pod is named as a virt-launcher, else `pod namespace/name`.

    A VM whose name is too long for the whole of it to be in its launcher pod's name is named
    by its pod: the guard still refuses, it just cannot say which VM.
    """
    vm = launcher.vmi_name_of_pod_name(name)
    return f"VM {namespace}/{vm}" if vm else f"pod {namespace}/{name}"
