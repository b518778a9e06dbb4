"""The kvsriov API (group kvsriov.io, version v1alpha1): the only source of the CRDs.

Imports nothing else of kvsriov, so the operator, the agent and the sandbox can
all depend on it. The names below load on first use (PEP 562): the node agent
imports `kvsriov.api.host` and `kvsriov.api.nic` only, and each model module it
does not need is resident memory on every node.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kvsriov.api.constants import API_VERSION, GROUP, VERSION
    from kvsriov.api.host import SriovHost, SriovHostSpec, SriovHostStatus
    from kvsriov.api.l2 import SriovL2Network, SriovL2NetworkSpec, SriovL2NetworkStatus
    from kvsriov.api.l3 import SriovL3Network, SriovL3NetworkSpec, SriovL3NetworkStatus
    from kvsriov.api.meta import KubeObject
    from kvsriov.api.nic import SriovPhysicalNic, SriovPhysicalNicSpec, SriovPhysicalNicStatus

_WHERE = {
    "API_VERSION": "constants",
    "GROUP": "constants",
    "VERSION": "constants",
    "KubeObject": "meta",
    "SriovHost": "host",
    "SriovHostSpec": "host",
    "SriovHostStatus": "host",
    "SriovPhysicalNic": "nic",
    "SriovPhysicalNicSpec": "nic",
    "SriovPhysicalNicStatus": "nic",
    "SriovL2Network": "l2",
    "SriovL2NetworkSpec": "l2",
    "SriovL2NetworkStatus": "l2",
    "SriovL3Network": "l3",
    "SriovL3NetworkSpec": "l3",
    "SriovL3NetworkStatus": "l3",
}

__all__ = [
    "API_VERSION",
    "GROUP",
    "KINDS",
    "VERSION",
    "KubeObject",
    "SriovHost",
    "SriovHostSpec",
    "SriovHostStatus",
    "SriovL2Network",
    "SriovL2NetworkSpec",
    "SriovL2NetworkStatus",
    "SriovL3Network",
    "SriovL3NetworkSpec",
    "SriovL3NetworkStatus",
    "SriovPhysicalNic",
    "SriovPhysicalNicSpec",
    "SriovPhysicalNicStatus",
]


def __getattr__(name: str) -> Any:
    if name == "KINDS":
        #: Every kind we serve, in the order the CRDs are written.
        kinds = tuple(
            __getattr__(kind)
            for kind in ("SriovHost", "SriovPhysicalNic", "SriovL2Network", "SriovL3Network")
        )
        globals()["KINDS"] = kinds
        return kinds
    if name in _WHERE:
        value = getattr(importlib.import_module(f"kvsriov.api.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kvsriov.api' has no attribute {name!r}")
