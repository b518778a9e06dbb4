"""The kubelet's published gRPC APIs, kept as interface definitions; *_pb2*.py are generated.

Regenerate with `kvsriov protos generate`; CI runs `kvsriov protos generate --check`.
A floor of the shared core: the node agent (its device plugin and PodResources client)
and the sandbox's kubelet stand-ins (kvsriov/sandbox/kubelet) both import it, and it
imports nothing of ours, so neither side needs the other. Each API keeps the kubelet's
own package path and version (k8s.io/kubelet pkg/apis/<api>/<version>), as the device
plugin registration and DRA APIs will when they come.
"""
