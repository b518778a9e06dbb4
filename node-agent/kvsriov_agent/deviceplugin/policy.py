"""GetPreferredAllocation: which of the kubelet's available VFs to give one container.

The kubelet asks at admission with the free device IDs, the IDs it must include
(already chosen by an init container or the Topology Manager) and a size; the answer
is a hint it may ignore (v1beta1 api.proto). The policy, in order:
1. keep every must-include device;
2. prefer one NUMA node that can hold the whole request (DMA and interrupts stay local
   to the VM's memory), the one already used by must-include devices first;
3. within it, take VFs of as few PFs as possible: spread across PFs only when one PF
   cannot hold the request (a PF's bandwidth is shared by its VFs, but a VM on one PF
   keeps its NICs on one switch port);
4. lowest VF index first, so that allocation is predictable.
Unknown IDs (not ours any more) are passed over; the kubelet then decides.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from kvsriov_agent.deviceplugin.devices import Device


def _order(devices: Iterable[Device]) -> list[Device]:
    """Fewest PFs first: the PF with most candidates first, then VF index."""
    devices = list(devices)
    per_pf = Counter(d.pf for d in devices)
    return sorted(devices, key=lambda d: (-per_pf[d.pf], d.pf, d.index))


def preferred(
    known: dict[str, Device], available: list[str], must_include: list[str], size: int
) -> list[str]:
    """Device IDs to allocate: must-include ones, then the best fit from `available`."""
    chosen = list(dict.fromkeys(must_include))
    if len(chosen) >= size:
        return chosen
    candidates = [known[i] for i in available if i in known and i not in chosen and known[i].healthy]
    need = size - len(chosen)
    by_numa: dict[int | None, list[Device]] = {}
    for device in candidates:
        by_numa.setdefault(device.numa, []).append(device)
    pinned = [known[i].numa for i in chosen if i in known]
    fitting = [numa for numa, devs in by_numa.items() if len(devs) >= need]
    if fitting:
        # The must-include devices' node first, then the fullest node (leaves others whole).
        numa = min(fitting, key=lambda n: (n not in pinned, -len(by_numa[n]), n if n is not None else -1))
        pool = _order(by_numa[numa])
    else:
        # No single node can: largest nodes first, each in fewest-PFs order.
        nodes = sorted(by_numa, key=lambda n: -len(by_numa[n]))
        pool = [d for n in nodes for d in _order(by_numa[n])]
    chosen += [d.pci for d in pool[:need]]
    return chosen
