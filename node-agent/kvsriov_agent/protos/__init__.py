"""The kubelet's published gRPC APIs, kept as interface definitions; *_pb2*.py are generated.

Regenerate with `kvsriov protos generate`; CI runs `kvsriov protos generate --check`.
Shared by the PodResources client and the device plugin.
"""
