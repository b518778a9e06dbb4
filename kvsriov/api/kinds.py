"""The names of our four kinds: the one spelling of each kind and plural.

The plural is what a URL, a watch, a webhook rule, RBAC and `kubectl get` say; the
models' CRD metadata (`CrdInfo`), the operator, the node agent and the sandbox all
take it from here, so a renamed kind cannot leave one of them watching nothing. No
pydantic here: the node agent imports this module and pays its memory on every node.
"""

from __future__ import annotations

from typing import Final

HOST_KIND: Final = "SriovHost"
HOST_PLURAL: Final = "sriovhosts"

NIC_KIND: Final = "SriovPhysicalNic"
NIC_PLURAL: Final = "sriovphysicalnics"

L2_KIND: Final = "SriovL2Network"
L2_PLURAL: Final = "sriovl2networks"

L3_KIND: Final = "SriovL3Network"
L3_PLURAL: Final = "sriovl3networks"
