"""The kvsriov operator (kopf): L2/L3 networks, NAD rendering, webhooks."""
