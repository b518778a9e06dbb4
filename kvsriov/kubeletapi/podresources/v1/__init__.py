"""PodResources v1: generated from api.proto by `kvsriov protos generate`."""
