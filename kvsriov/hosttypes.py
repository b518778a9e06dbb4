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
    """One entry of a PF's IFLA_VFINFO_LIST: the VF settings the PF driver enforces.

    `mac` None is the zero MAC (no administrative MAC), `vlan` None is VLAN 0 (no tag). The
    kernel presets spoofchk and trust to -1 before asking the driver (net/core/rtnetlink.c,
    rtnl_fill_vfinfo), so None there means the PF driver does not report them; link_state is
    "auto", "enable" or "disable" (IFLA_VF_LINK_STATE_*), "auto" when the driver says nothing.
    """

    index: int
    mac: str | None
    vlan: int | None
    qos: int = 0
    spoofchk: bool | None = None
    trust: bool | None = None
    link_state: str = "auto"
