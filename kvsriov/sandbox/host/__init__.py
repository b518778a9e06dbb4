"""The simulated host: sysfs/proc trees shaped like the kernel's, and recorded netlink data."""
