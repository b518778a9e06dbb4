"""API strings shared by the operator, the node agent and the sandbox.

Every label key, annotation, group name and resource prefix lives here so that
no module spells one inline (a typo in a label key silently breaks a selector).
"""

from __future__ import annotations

from typing import Final

GROUP: Final = "kvsriov.io"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"

#: Labels the node agent puts on every SriovPhysicalNic so that it can watch
#: only its own node's objects with a server-side label selector.
LABEL_NODE: Final = f"{GROUP}/node"
LABEL_INTERFACE: Final = f"{GROUP}/interface"

#: Labels on rendered NetworkAttachmentDefinitions pointing back at their L3 network. Label
#: values derived from names go through `naming.label_value` (a name may be longer than a
#: label value may be), so the NAD names its L3 network in full in the annotation.
LABEL_L3_NETWORK: Final = f"{GROUP}/l3-network"
ANNOTATION_L3_NETWORK: Final = f"{GROUP}/l3-network"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE: Final = "kvsriov"

#: Extended resources are `kvsriov.io/<interface>` (one pool per PF name across the cluster).
RESOURCE_PREFIX: Final = GROUP

#: Multus reads this annotation to know which device-plugin resource a NAD consumes.
NAD_RESOURCE_ANNOTATION: Final = "k8s.v1.cni.cncf.io/resourceName"

#: Linux limits interface names to IFNAMSIZ-1 bytes.
MAX_INTERFACE_NAME: Final = 15

#: Highest VF count the PCI SR-IOV capability can express per PF (TotalVFs is 16 bits,
#: but no NIC we know of exceeds 256; sriov_totalvfs is the real limit and is checked
#: against the NIC's status by the node agent and the webhook).
MAX_VFS: Final = 256

#: The 802.1Q VLAN id range usable for tagged traffic (0 and 4095 are reserved).
VLAN_MIN: Final = 1
VLAN_MAX: Final = 4094
#: 802.1p priority code points: the 3-bit PCP of a VLAN tag.
VLAN_QOS_MIN: Final = 0
VLAN_QOS_MAX: Final = 7
#: MTU bounds a network may ask for: ETH_MIN_MTU (include/uapi/linux/if_ether.h) up to the largest
#: PF maximum of the drivers we support: igb 9216 (igb_main.c, MAX_STD_JUMBO_FRAME_SIZE), i40e 9706
#: (I40E_MAX_RXBUFFER - I40E_PACKET_HDR_PAD), ixgbe 9710 (IXGBE_MAX_JUMBO_FRAME_SIZE 9728 minus
#: Ethernet header and FCS). The PF's own max_mtu is checked by the agent, not the schema.
MTU_MIN: Final = 68
MTU_MAX: Final = 9710
