"""The kvsriov API (group kvsriov.io, version v1alpha1): the only source of the CRDs.

Imports nothing else of kvsriov, so the operator, the agent and the sandbox can
all depend on it.
"""

from kvsriov.api.constants import API_VERSION, GROUP, VERSION
from kvsriov.api.host import SriovHost, SriovHostSpec, SriovHostStatus
from kvsriov.api.l2 import SriovL2Network, SriovL2NetworkSpec, SriovL2NetworkStatus
from kvsriov.api.l3 import SriovL3Network, SriovL3NetworkSpec, SriovL3NetworkStatus
from kvsriov.api.meta import KubeObject
from kvsriov.api.nic import SriovPhysicalNic, SriovPhysicalNicSpec, SriovPhysicalNicStatus

#: Every kind we serve, in the order the CRDs are written.
KINDS: tuple[type[KubeObject], ...] = (SriovHost, SriovPhysicalNic, SriovL2Network, SriovL3Network)

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
