"""The kubelet device plugin (v1beta1): one extended resource per PF name, devices = VF PCI addresses.

`DevicePlugins` (manager.py) is what the agent holds: the reconcile pass tells it
what each PF looks like (`observe`), and it serves, registers and re-registers one
`ResourcePlugin` (plugin.py) per resource. Pure parts: devices.py (what is usable),
policy.py (GetPreferredAllocation), devinfo.py (the NPWG device-information files).
Nothing is imported here: grpc costs ~13 MiB and start-up time (`kvsriov agent probe`
under TCG), so only whoever serves imports `kvsriov_agent.deviceplugin.manager`.
"""
