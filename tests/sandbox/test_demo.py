"""`kvsriov demo`, run as a user runs it: the reference workflow end to end on the sandbox."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kvsriov.sandbox.host.simhost import fuse_unavailable

FUSE_MISSING = fuse_unavailable()


@pytest.mark.skipif(FUSE_MISSING is not None, reason=f"the demo's simulated hosts need FUSE: {FUSE_MISSING}")
def test_demo_walks_the_reference_workflow() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kvsriov.cli", "demo"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    # Step 2: em2 sliced on both nodes, shown in the NIC table as available/total.
    sliced = [line.split() for line in out.splitlines() if line.startswith("node-") and "em2" in line]
    assert any(row[-3:-1] == ["Virtualized", "4/4"] for row in sliced)
    # Refusals name the field and the fix.
    assert "spec.numVfs: 70 exceeds the 63 VFs this NIC supports" in out
    assert "spec.type: Invalid value" in out and "use NoVlan or Vlan" in out
    assert "overlaps 192.168.100.10-192.168.100.200 of SriovL3Network l3-vlan100" in out
    # Step 3: effectiveness per node, the NAD with VLAN and resource, and the reaction to a restore.
    assert "l2-em1-vlan200 SriovEffective=False" in out and "node-1 (NotSliced)" in out
    assert '"k8s.v1.cni.cncf.io/resourceName": "kvsriov.io/em2"' in out and '"vlan": 100' in out
    l2_rows = [line.split() for line in out.splitlines() if line.startswith("l2-em2-vlan100")]
    assert l2_rows[0][4:6] == ["true", "2/2"] and l2_rows[-1][4:6] == ["true", "1/2"]
    # Step 4: the VM's pod gets a VF through the device plugin; the NIC shows it in use by the VM.
    assert "PCIDEVICE_KVSRIOV_IO_EM2=0000:" in out and "devices in the pod: /dev/vfio/vfio, /dev/vfio/" in out
    assert '"vfio-group": ' in out
    in_use = [line.split() for line in out.splitlines() if line.startswith("node-2.em2") and "InUse" in line]
    assert in_use and in_use[0][-2] == "3/4"
    assert "allocated to VM default/vm-a" in out
    # KubeVirt 1.9: the operator's webhook added the VF request, and says so on the L3 network.
    assert (
        "l3-vlan100 VfRequests=True (Kvsriov): KubeVirt v1.9.0, feature gate ExternalNetResourceInjection on"
        in out
    )
    assert "kvsriov.io/em2: 1   (added by the operator's launcher-pod webhook" in out
    # Stop frees the VF (4/4), start takes one again (3/4).
    step5 = out[out.index("== Step 5:") : out.index("== Step 5b")]
    assert [r.split()[-2] for r in step5.splitlines() if r.startswith("node-2.em2")] == ["4/4", "3/4"]
    # No VF free: warned at creation, then told per node where VFs are.
    assert "Warning: this VM asks for 8 VF(s) of kvsriov.io/em2 and 7 are free in the cluster" in out
    assert (
        "vm-big VfAvailable=False (NoVfFree)" in out and "(node-1: 4 of 4 free, node-2: 3 of 4 free)" in out
    )
    # Step 6: the vNIC NAD (bridge, same VLAN and pool), and the switch of a stopped VM's NIC.
    assert '"type": "bridge", "bridge": "br-em2"' in out and "NIC vf1 is now a vNIC" in out
    assert "vf1       vNIC   default/l3-vlan100-vnic" in out
    # Migration: refused under Refuse with what to do; under UnplugReplug vm-a moves to node-1,
    # the operator says where its VF went, and node-2's VF is free again.
    step5c = out[out.index("== Step 5c:") : out.index("== Restore")]
    assert "asked by a user: stop the VM (virtctl stop), or set spec.vmMigration: UnplugReplug" in step5c
    assert "VfReplugged   VirtualMachine default/vm-a migrated with its VF NICs: vf1: 0000:" in step5c
    assert " on node-2 -> 0000:" in step5c and " on node-1" in step5c
    moved = {r.split()[0]: r.split()[-2] for r in step5c.splitlines() if r.startswith("node-")}
    assert moved == {"node-1.em2": "3/4", "node-2.em2": "4/4"}
    # Nothing is lost: the restore waits for the VM, then goes ahead once its VF is free.
    assert "Sliced=False (InUse)" in out and "in use by running VMs: VF 0 (VM default/vm-a)" in out
    final = [line.split() for line in out.splitlines() if line.startswith("node-1.em2")][-1]
    assert final[-3:-1] == ["Virtualizable", "0/0"]
