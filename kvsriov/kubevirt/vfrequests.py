"""Who makes a virt-launcher pod ask the kubelet for its VFs, read from the KubeVirt CR.

A VF reaches a VM only if the launcher pod requests one device of the NAD's resourceName
per SR-IOV network; without it Multus finds no device and sriov-cni fails ("VF pci addr is
required"). virt-controller adds those requests only while KubeVirt's feature gate
ExternalNetResourceInjection is off (pkg/virt-controller/services/template.go,
`ExternalNetResourceInjectionEnabled`). The gate exists since v1.8.0, as Beta
(pkg/virt-config/featuregate/network/external_net_resource_injection.go), and since v1.9.0 a
Beta gate is on unless spec.configuration.developerConfiguration.disabledFeatureGates names it
(pkg/virt-config/featuregate/feature-gates.go `IsEnabled`: GA, then featureGates, then
disabledFeatureGates, then "is it Beta"; kubevirt/kubevirt PR 17405). KubeVirt 1.7 has no such
gate and always adds the requests. (PR 18497 graduates the gate to GA, after which it cannot
be disabled; the release that ships it was not known when this was written: a GA release
reports here as "on", which is what it is, unless disabledFeatureGates still names it.)
So on a default KubeVirt 1.9 somebody else must add them: kvsriov's launcher-pod webhook
(the default), or network-resources-injector where the cluster runs it
(`--vf-requests network-resources-injector`).

Pure: the CR as a dict in, the mode out; the operator turns it into the VfRequests condition
of every SR-IOV L3 network, `kvsriov doctor --cluster` prints it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Literal

GATE: Final = "ExternalNetResourceInjection"
#: The first release that knows the gate (older ones ignore an unknown gate: feature-gates.go).
GATE_SINCE: Final = (1, 8)
#: The first release in which Beta gates are on unless disabled (feature-gates.go).
BETA_ON_BY_DEFAULT_SINCE: Final = (1, 9)
KUBEVIRT_GROUP, KUBEVIRT_VERSION, KUBEVIRT_PLURAL = "kubevirt.io", "v1", "kubevirts"

#: What the operator was told to do about the requests (`kvsriov operator --vf-requests`).
Ours = Literal["kvsriov", "network-resources-injector"]


class Injector(StrEnum):
    """Who adds the VF requests to a launcher pod: the VfRequests condition's reason."""

    KUBEVIRT = "KubeVirt"
    KVSRIOV = "Kvsriov"
    NETWORK_RESOURCES_INJECTOR = "NetworkResourcesInjector"
    NOBODY = "Nobody"


@dataclass(frozen=True)
class KubeVirtConfig:
    """What kvsriov needs to know of the cluster's KubeVirt CR."""

    found: bool
    version: str | None = None
    feature_gates: tuple[str, ...] = ()
    disabled_feature_gates: tuple[str, ...] = ()
    #: spec.configuration.evictionStrategy: a VMI's eviction strategy unless it sets its own
    #: (kvsriov/kubevirt/migration.py).
    eviction_strategy: str | None = None

    @property
    def gate_enabled(self) -> bool | None:
        """ExternalNetResourceInjection on? None when KubeVirt is absent or its version unknown
        and the gate is neither enabled nor disabled explicitly."""
        release = _release(self.version)
        if release is not None and release < GATE_SINCE:
            return False
        if GATE in self.disabled_feature_gates:
            return False
        if GATE in self.feature_gates:
            return True
        if not self.found or release is None:
            return None
        return release >= BETA_ON_BY_DEFAULT_SINCE


def _release(version: str | None) -> tuple[int, int] | None:
    match = re.match(r"v?(\d+)\.(\d+)", version or "")
    return (int(match[1]), int(match[2])) if match else None


def kubevirt_config(cr: Mapping[str, Any] | None) -> KubeVirtConfig:
    """Read the KubeVirt CR (kubevirt.io/v1 KubeVirt, usually kubevirt/kubevirt); None: absent.

    The version is the one deployed (status.observedKubeVirtVersion), else the one being rolled
    out (status.targetKubeVirtVersion).
    """
    if cr is None:
        return KubeVirtConfig(found=False)
    status = cr.get("status") or {}
    configuration = (cr.get("spec") or {}).get("configuration") or {}
    dev = configuration.get("developerConfiguration") or {}
    return KubeVirtConfig(
        found=True,
        version=status.get("observedKubeVirtVersion") or status.get("targetKubeVirtVersion"),
        feature_gates=tuple(dev.get("featureGates") or ()),
        disabled_feature_gates=tuple(dev.get("disabledFeatureGates") or ()),
        eviction_strategy=configuration.get("evictionStrategy") or None,
    )


@dataclass(frozen=True)
class VfRequestMode:
    """Who adds the requests, and the condition that says so."""

    injector: Injector
    status: Literal["True", "False", "Unknown"]
    message: str


def vf_request_mode(config: KubeVirtConfig, ours: Ours, webhook_served: bool) -> VfRequestMode:
    """Decide who adds a launcher pod's VF requests, and whether anybody does.

    `webhook_served`: the operator serves its webhooks (not `--webhook-server none`), so its
    launcher-pod webhook runs when `ours` is kvsriov.
    """
    version = config.version or "version unknown"
    gate = config.gate_enabled
    kvsriov_injects = ours == "kvsriov" and webhook_served
    if gate is False:
        how = "disabled" if GATE in config.disabled_feature_gates else "off"
        return VfRequestMode(
            Injector.KUBEVIRT,
            "True",
            f"KubeVirt {version} with feature gate {GATE} {how}: virt-controller adds the VF "
            "requests to launcher pods"
            + ("; kvsriov's webhook adds only what would be missing" if kvsriov_injects else ""),
        )
    where = (
        f"KubeVirt {version}, feature gate {GATE} on"
        if gate
        else ("KubeVirt not found" if not config.found else f"KubeVirt {version}, gate {GATE} unknown")
    )
    if kvsriov_injects:
        return VfRequestMode(
            Injector.KVSRIOV,
            "True",
            f"{where}: kvsriov's launcher-pod webhook adds one request and limit of the NAD's "
            "resourceName per SR-IOV network",
        )
    if ours == "network-resources-injector":
        return VfRequestMode(
            Injector.NETWORK_RESOURCES_INJECTOR,
            "True",
            f"{where}: left to network-resources-injector (operator --vf-requests "
            "network-resources-injector); VMs get no VF unless it runs in the cluster",
        )
    return VfRequestMode(
        Injector.NOBODY,
        "False" if gate else "Unknown",
        f"{where}, and the operator serves no webhooks (--webhook-server none): launcher pods "
        f"ask for no VF and sriov-cni fails. Serve the webhooks, run network-resources-injector, "
        f"or add {GATE} to the KubeVirt CR's spec.configuration.developerConfiguration."
        "disabledFeatureGates",
    )
