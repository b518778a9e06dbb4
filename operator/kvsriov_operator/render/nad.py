"""NetworkAttachmentDefinitions for SR-IOV L3 networks (pure: spec in, object out).

One NAD per namespace of the L3 network, named after it, so a KubeVirt VM
refers to it as `<namespace>/<l3-name>`. The CNI config follows:

* sriov-cni, README "Configuration reference" (k8snetworkplumbingwg/sriov-cni):
  `type: sriov`; `vlan` 0-4094 (0 = no tag); `spoofchk` and `trust` are "on"/"off"
  strings. The VF settings follow its NetConf (pkg/types/types.go `SriovNetConf`, master
  after v2.9.0, the commit hack/sriov-cni/build.sh pins): `vlanQoS` (int), `vlanProto`
  ("802.1q"|"802.1ad"), `link_state` ("auto"|"enable"|"disable") and `MTU` (no json tag, so
  Go's case-insensitive decoding reads our `mtu`). pkg/config/config.go LoadConf refuses
  `vlanQoS`/`vlanProto` without `vlan`, so they are rendered only for a Vlan network.
  pkg/sriov/sriov.go ApplyVFConfig writes VLAN, QoS, proto, spoofchk, trust and link state
  on the PF for every VF; pkg/cnicommands/cni.go CmdAdd skips SetupVF, where the MTU is set,
  for a VF without a netdev (DPDK mode, i.e. vfio-pci): there the guest sets the MTU from
  status.cloudInit, and the agent sets it on the PF (a VF's maximum follows its PF).
  `link_state` is rendered only when not `auto`: ApplyVFConfig writes it whenever it is
  present, and igb refuses the write (docs/configuration-reference.md), which would fail
  every VM NIC on an igb PF that asked for nothing.
  `deviceID` is filled per pod by Multus from the device plugin
  allocation named by the `k8s.v1.cni.cncf.io/resourceName` annotation, so the
  NAD carries no PCI address. `capabilities: {mac: true}`: KubeVirt puts the VM
  interface's MAC into the pod's network selection, and Multus hands it to the
  delegate as runtimeConfig.mac only when the delegate declares this capability
  (else through CNI_ARGS, deprecated by Multus); sriov-cni then sets it on the VF.
* whereabouts, README and doc/extended-configuration.md
  (k8snetworkplumbingwg/whereabouts): `type: whereabouts`, cluster-wide
  allocation, `gateway`, `dns` (passed into the CNI result). An L3 network's
  ranges are one pool from which a VM gets one address, so they become ONE
  `ipRanges` entry: the CIDR, the lowest start, the highest end, and the gaps
  between ranges as `exclude` CIDRs. Not one entry per range: whereabouts gives
  an attachment one address per entry (its multi-range form is for dual stack),
  and entries of one CIDR share a pool, so a second entry hands the same pod the
  same address again (pkg/storage/kubernetes/ipam.go IPManagementKubernetesUpdate;
  tests/sandbox/test_nad_ipam_whereabouts.py shows it with the real plugin).
"""

from __future__ import annotations

import ipaddress
import itertools
import json
from collections.abc import Mapping
from typing import Any, Final

from kvsriov.api.constants import (
    ANNOTATION_L3_NETWORK,
    LABEL_L3_NETWORK,
    LABEL_MANAGED_BY,
    MANAGED_BY_VALUE,
    NAD_RESOURCE_ANNOTATION,
)
from kvsriov.api.l2 import SriovL2Network
from kvsriov.api.l3 import SriovL3Network
from kvsriov.api.naming import label_value, resource_name, vnic_bridge_name, vnic_nad_name
from kvsriov_operator.render.owner import owner_of, owner_reference

NAD_GROUP: Final = "k8s.cni.cncf.io"
NAD_VERSION: Final = "v1"
NAD_PLURAL: Final = "network-attachment-definitions"
CNI_VERSION: Final = "1.0.0"
#: The default of spec.linkState, left out of the NAD (see the module docstring).
LINK_STATE_AUTO: Final = "auto"
#: Where the NAD goes when spec.namespaces is empty (documented on SriovL3NetworkSpec.namespaces).
DEFAULT_NAMESPACE: Final = "default"


def target_namespaces(l3: SriovL3Network) -> list[str]:
    """spec.namespaces, or `default` when empty; sorted, without duplicates."""
    return sorted(set(l3.spec.namespaces)) or [DEFAULT_NAMESPACE]


def whereabouts_ipam(l3: SriovL3Network) -> dict[str, Any]:
    ipam = l3.spec.ipam
    bounds = sorted((ipaddress.ip_address(rng.start), ipaddress.ip_address(rng.end)) for rng in ipam.ranges)
    pool: dict[str, Any] = {"range": ipam.cidr, "range_start": str(bounds[0][0])}
    pool["range_end"] = str(bounds[-1][1])
    gaps = [
        str(net)
        for (_, end), (start, _) in itertools.pairwise(bounds)
        if int(end + 1) <= int(start - 1)
        for net in ipaddress.summarize_address_range(end + 1, start - 1)
    ]
    if gaps:
        pool["exclude"] = gaps
    result: dict[str, Any] = {"type": "whereabouts", "ipRanges": [pool]}
    if ipam.gateway is not None:
        result["gateway"] = ipam.gateway
    if ipam.dns:
        result["dns"] = {"nameservers": list(ipam.dns)}
    return result


def _on_off(value: bool) -> str:
    return "on" if value else "off"


def cni_config(l3: SriovL3Network, l2: SriovL2Network) -> dict[str, Any]:
    """The sriov-cni config; optional settings appear only when the networks set them."""
    tagged = l2.spec.type == "Vlan" and l2.spec.vlan is not None
    config: dict[str, Any] = {
        "cniVersion": CNI_VERSION,
        "name": l3.metadata.name,
        "type": "sriov",
        "vlan": l2.spec.vlan if tagged else 0,
    }
    if tagged and l2.spec.vlan_qos is not None:
        config["vlanQoS"] = l2.spec.vlan_qos
    if tagged and l2.spec.vlan_proto is not None:
        config["vlanProto"] = l2.spec.vlan_proto
    config["spoofchk"] = _on_off(l3.spec.spoof_check)
    config["trust"] = _on_off(l3.spec.trust)
    if l3.spec.link_state != LINK_STATE_AUTO:
        config["link_state"] = l3.spec.link_state
    if l2.spec.mtu is not None:
        config["mtu"] = l2.spec.mtu
    config["capabilities"] = {"mac": True}
    config["ipam"] = whereabouts_ipam(l3)
    return config


def vnic_cni_config(l3: SriovL3Network, l2: SriovL2Network) -> dict[str, Any]:
    """The vNIC of the same network: containernetworking/plugins `bridge` (plugins/main/bridge,
    its README) on the PF's bridge, the L2 network's VLAN as the port's PVID and its `mtu` (the
    plugin sets it on the veth pair, plugins/main/bridge/bridge.go NetConf.MTU), the same
    whereabouts pool (one pool per range, so VF and vNIC NICs share the subnet and never get
    one address twice).

    Why bridge and not macvlan: KubeVirt's binding for a secondary Multus network is `bridge`
    (the pod interface is bridged to the VM's tap and the VM takes its MAC), and a macvlan
    interface only receives frames for its own MAC. The bridge needs the PF as a port, tagged
    for the VLAN (README "Networks and NADs": the node's network configuration, not ours).
    """
    config: dict[str, Any] = {
        "cniVersion": CNI_VERSION,
        "name": vnic_nad_name(l3.metadata.name),
        "type": "bridge",
        "bridge": vnic_bridge_name(l2.spec.physical_interface),
        "macspoofchk": True,
    }
    if l2.spec.type == "Vlan" and l2.spec.vlan is not None:
        config["vlan"] = l2.spec.vlan
    if l2.spec.mtu is not None:
        config["mtu"] = l2.spec.mtu
    config["ipam"] = whereabouts_ipam(l3)
    return config


def _nad(
    l3: SriovL3Network, namespace: str, name: str, config: dict[str, Any], annotations: dict[str, str]
) -> dict[str, Any]:
    """The owner mark (render/owner.py) needs the L3 network's uid: without one (a spec not read
    from the API server) the NAD has labels only."""
    meta: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "labels": {LABEL_L3_NETWORK: label_value(l3.metadata.name), LABEL_MANAGED_BY: MANAGED_BY_VALUE},
        "annotations": {**annotations, ANNOTATION_L3_NETWORK: l3.metadata.name},
    }
    if l3.metadata.uid:
        meta["ownerReferences"] = [owner_reference(l3.metadata.name, l3.metadata.uid)]
    return {
        "apiVersion": f"{NAD_GROUP}/{NAD_VERSION}",
        "kind": "NetworkAttachmentDefinition",
        "metadata": meta,
        "spec": {"config": json.dumps(config, sort_keys=False)},
    }


def l3_selector(l3_name: str) -> str:
    """The label selector of the NADs rendered for the L3 network `l3_name`."""
    return f"{LABEL_L3_NETWORK}={label_value(l3_name)}"


def nad_owner(nad: Mapping[str, Any]) -> str | None:
    """The name of the L3 network that owns a NAD (render/owner.py), or None."""
    return owner_of(nad)


def render_nad(l3: SriovL3Network, l2: SriovL2Network, namespace: str) -> dict[str, Any]:
    """The VF NAD for `l3` in `namespace`; labels point back at the L3 network."""
    annotations = {NAD_RESOURCE_ANNOTATION: resource_name(l2.spec.physical_interface)}
    return _nad(l3, namespace, l3.metadata.name, cni_config(l3, l2), annotations)


def render_vnic_nad(l3: SriovL3Network, l2: SriovL2Network, namespace: str) -> dict[str, Any]:
    """The vNIC NAD for `l3` in `namespace` (`<l3>-vnic`): no device, so no resourceName."""
    return _nad(l3, namespace, vnic_nad_name(l3.metadata.name), vnic_cni_config(l3, l2), {})


def render_nads(l3: SriovL3Network, l2: SriovL2Network) -> dict[str, dict[str, Any]]:
    """Every NAD of `l3` (the VF one and the vNIC one per namespace), keyed `namespace/name`."""
    out = {}
    for ns in target_namespaces(l3):
        out[f"{ns}/{l3.metadata.name}"] = render_nad(l3, l2, ns)
        out[f"{ns}/{vnic_nad_name(l3.metadata.name)}"] = render_vnic_nad(l3, l2, ns)
    return out


def drifted(actual: Mapping[str, Any], desired: dict[str, Any]) -> bool:
    """True when a live NAD differs from its render in what we own (labels, annotation, config,
    the owner mark)."""
    meta, want = actual.get("metadata") or {}, desired["metadata"]
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    refs = meta.get("ownerReferences") or []
    return (
        any(
            not any(all(have.get(k) == v for k, v in ref.items()) for have in refs)
            for ref in want.get("ownerReferences") or []
        )
        or any(labels.get(k) != v for k, v in want["labels"].items())
        or any(annotations.get(k) != v for k, v in want["annotations"].items())
        or (actual.get("spec") or {}).get("config") != desired["spec"]["config"]
    )
