"""Where the kubelet serves its APIs on a node: the one place these paths are spelled.

Both sides import this: the node agent (its device plugins dial the registration socket and
listen beside it; its PodResources client dials the pod-resources socket) and the sandbox's
kubelet stand-ins, which listen where the real kubelet would under a test's root.

Upstream: k8s.io/kubelet pkg/apis/deviceplugin/v1beta1/constants.go (DevicePluginPath,
KubeletSocket) and the kubelet's pod-resources directory (pkg/kubelet/kubelet.go serves
PodResources on `<root-dir>/pod-resources/kubelet.sock`; root-dir defaults to /var/lib/kubelet).
"""

from __future__ import annotations

from pathlib import PurePosixPath

#: The kubelet's --root-dir default.
KUBELET_ROOT = PurePosixPath("/var/lib/kubelet")
#: Device plugins listen here, and the kubelet's Registration service is KUBELET_SOCKET in it.
DEVICE_PLUGIN_DIR = KUBELET_ROOT / "device-plugins"
#: The file name of the kubelet's own socket in the device plugin directory.
KUBELET_SOCKET = "kubelet.sock"
#: PodResources v1 (List): the kubelet's only account of which device went to which pod.
POD_RESOURCES_SOCKET = KUBELET_ROOT / "pod-resources" / KUBELET_SOCKET
