"""Device plugin v1beta1: generated from api.proto by `kvsriov protos generate`."""
