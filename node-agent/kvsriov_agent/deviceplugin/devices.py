"""What the device plugin advertises for one PF: its VFs, each Healthy only when usable.

Usable (issue 6, DESIGN §3 step 1): the VF exists, is bound to the driver spec.vfDriver
asks for and, for vfio-pci, its /dev/vfio/<group> node exists (vffacts.VfFacts.usable).
A VF that vanishes while the spec still asks for it (PF driver removed, PF gone) stays
listed as Unhealthy, so the kubelet stops scheduling on it and says why, instead of the
device silently disappearing; VFs removed on purpose (numVfs lowered) are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kvsriov.api.nic import SriovPhysicalNicStatus
from kvsriov_agent.vffacts import VfDriver, VfFacts

HEALTHY = "Healthy"  # k8s.io/kubelet pkg/apis/deviceplugin/v1beta1/constants.go
UNHEALTHY = "Unhealthy"


@dataclass(frozen=True)
class Device:
    """One VF as the kubelet sees it. `pci` is the device ID: stable for a PF + VF index."""

    pci: str
    pf: str
    pf_pci: str
    index: int
    numa: int | None
    group: str | None
    healthy: bool

    @property
    def health(self) -> str:
        return HEALTHY if self.healthy else UNHEALTHY


def observe_devices(
    status: SriovPhysicalNicStatus,
    facts: Mapping[str, VfFacts],
    wanted_vfs: int,
    driver: VfDriver,
    previous: dict[str, Device],
) -> dict[str, Device]:
    """The PF's devices now, from this pass's VF facts; `previous` keeps vanished-but-wanted VFs
    listed as Unhealthy."""
    pf = status.interface or ""
    found: dict[str, Device] = {}
    for vf in status.vfs:
        known = facts.get(vf.pci_address)
        if not vf.pci_address or known is None:
            continue
        found[vf.pci_address] = Device(
            pci=vf.pci_address,
            pf=pf,
            pf_pci=status.pci_address or "",
            index=vf.index,
            numa=known.numa,
            group=known.group,
            healthy=vf.health != "Lost" and known.usable(driver),
        )
    for pci, old in previous.items():
        if pci not in found and old.index < wanted_vfs:
            found[pci] = Device(old.pci, old.pf, old.pf_pci, old.index, old.numa, old.group, healthy=False)
    return dict(sorted(found.items(), key=lambda item: item[1].index))


def lost(previous: dict[str, Device]) -> dict[str, Device]:
    """The PF is gone (driver removed, unplugged): every device it had is Unhealthy."""
    return {
        pci: Device(d.pci, d.pf, d.pf_pci, d.index, d.numa, d.group, False) for pci, d in previous.items()
    }
