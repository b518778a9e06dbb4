"""The kvsriov node agent: host probe, PF discovery, slicing, device plugin."""
