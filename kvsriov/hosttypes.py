"""What the host's kernel answers, as plain values: a floor of the shared core.

The node agent's host layer (node-agent/kvsriov_agent/host/: the Protocols in interfaces.py
and their real implementations) returns these, and so do the simulated host's
implementations (kvsriov/sandbox/host/), which mirror the kernel, not the agent: both import
them from here, so the sandbox never imports the agent. Values only (no I/O, nothing
imported but the standard library): the agent's `probe` imports this on every node.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LinkInfo:
    """What rtnetlink says about one interface (RTM_GETLINK)."""

    ifname: str
    index: int
    operstate: str
    carrier: bool | None
    mac: str | None


@dataclass(frozen=True)
class VfInfo:
    """One entry of a PF's IFLA_VFINFO_LIST: the VF settings the PF driver enforces."""

    index: int
    mac: str | None
    vlan: int | None
