"""kvsriov: SR-IOV NIC virtualization for KubeVirt (shared core)."""
