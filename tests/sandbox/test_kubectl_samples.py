"""A new user's first steps with kubectl against the emulated API server and our CRDs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kvsriov.paths import samples_dir

KUBECTL = shutil.which("kubectl")
pytestmark = [
    pytest.mark.kubectl,
    pytest.mark.both_servers,
    pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed (CI has /usr/bin/kubectl)"),
]

BAD_VLAN = """
apiVersion: kvsriov.io/v1alpha1
kind: SriovL2Network
metadata: {name: bad-vlan}
spec: {type: Vlan, physicalInterface: em2, vlan: 5000}
"""
VXLAN = """
apiVersion: kvsriov.io/v1alpha1
kind: SriovL2Network
metadata: {name: overlay}
spec: {type: Vxlan, physicalInterface: em2}
"""
VLAN_ON_NOVLAN = """
apiVersion: kvsriov.io/v1alpha1
kind: SriovL2Network
metadata: {name: novlan}
spec: {type: NoVlan, physicalInterface: em2, vlan: 10}
"""


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_samples_apply_and_show_the_nic_table(kubeconfig: Path) -> None:
    applied = kubectl(kubeconfig, "apply", "-f", str(samples_dir()))
    assert applied.returncode == 0, applied.stderr
    assert "sriovl3network.kvsriov.io/l3-vlan100 created" in applied.stdout

    table = kubectl(kubeconfig, "get", "sriovphysicalnics")
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["NAME", "NODE", "INTERFACE", "MODEL", "LINK", "SPEED", "STATE", "VFS", "AGE"]
    assert len(rows) == 8
    assert any(row.split()[:3] == ["node-1.em2", "node-1", "em2"] for row in rows)


def test_other_tables_show_their_columns(kubeconfig: Path) -> None:
    assert kubectl(kubeconfig, "apply", "-f", str(samples_dir())).returncode == 0
    expected = {
        "sriovhosts": ["NAME", "IOMMU", "ENABLED", "READY", "IR", "REBOOT", "AGE"],
        "sriovl2networks": ["NAME", "TYPE", "INTERFACE", "VLAN", "SRIOV", "EFFECTIVE", "AGE"],
        "sriovl3networks": ["NAME", "L2", "SRIOV", "CIDR", "READY", "AGE"],
    }
    for plural, header in expected.items():
        out = kubectl(kubeconfig, "get", plural)
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines()[0].split() == header
    l2 = kubectl(kubeconfig, "get", "srl2", "l2-em2-vlan100", "--no-headers").stdout.split()
    assert l2[:5] == ["l2-em2-vlan100", "Vlan", "em2", "100", "true"]


def test_vlan_5000_is_refused_naming_the_field(kubeconfig: Path) -> None:
    out = kubectl(kubeconfig, "apply", "-f", "-", stdin=BAD_VLAN)
    assert out.returncode != 0
    assert "spec.vlan" in out.stderr and "4094" in out.stderr


def test_vxlan_is_refused_saying_why(kubeconfig: Path) -> None:
    out = kubectl(kubeconfig, "apply", "-f", "-", stdin=VXLAN)
    assert out.returncode != 0
    assert "spec.type" in out.stderr
    assert "SR-IOV is not supported on VXLAN L2 networks; use NoVlan or Vlan" in out.stderr


def test_a_type_typo_is_refused_with_the_supported_types_only(kubeconfig: Path) -> None:
    out = kubectl(kubeconfig, "apply", "-f", "-", stdin=VXLAN.replace("Vxlan", "vlan"))
    assert out.returncode != 0
    assert "spec.type" in out.stderr and "must be NoVlan or Vlan" in out.stderr
    assert "Vxlan" not in out.stderr


def l3_yaml(cidr: str, start: str, end: str, gateway: str) -> str:
    return f"""
apiVersion: kvsriov.io/v1alpha1
kind: SriovL3Network
metadata: {{name: bad-ipam}}
spec:
  l2Network: l2-em2-vlan100
  ipam: {{cidr: "{cidr}", ranges: [{{start: {start}, end: {end}}}], gateway: {gateway}}}
"""


@pytest.mark.parametrize(
    ("ipam", "field", "words"),
    [
        (("10.6.0.0/24", "10.6.0.10", "10.6.0.20", "10.6.0.0"), "spec.ipam.gateway",
         "10.6.0.0 is the network address of 10.6.0.0/24"),
        (("224.1.0.0/24", "224.1.0.10", "224.1.0.20", "224.1.0.1"), "spec.ipam.cidr", "multicast"),
        (("127.0.0.0/24", "127.0.0.10", "127.0.0.20", "127.0.0.1"), "spec.ipam.cidr", "loopback"),
        (("0.0.0.0/0", "10.0.0.10", "10.0.0.20", "10.0.0.1"), "spec.ipam.cidr", "0.0.0.0/8"),
        (("0.0.0.0/1", "10.0.0.10", "10.0.0.20", "10.0.0.1"), "spec.ipam.cidr", "0.0.0.0/8"),
    ],
    ids=["gateway-network-address", "multicast", "loopback", "everything", "half-of-everything"],
)  # fmt: skip
def test_unusable_ipam_is_refused_by_the_api_server_naming_the_field(
    kubeconfig: Path, ipam: tuple[str, str, str, str], field: str, words: str
) -> None:
    """The CRD's own rules (no operator running): a gateway or pool a VM NIC cannot use never
    reaches a NAD or cloud-init."""
    out = kubectl(kubeconfig, "apply", "-f", "-", stdin=l3_yaml(*ipam))
    assert out.returncode != 0, out.stdout
    assert field in out.stderr and words in out.stderr, out.stderr


def test_vlan_with_novlan_is_refused_by_the_cel_rule(kubeconfig: Path) -> None:
    out = kubectl(kubeconfig, "apply", "-f", "-", stdin=VLAN_ON_NOVLAN)
    assert out.returncode != 0
    assert "spec.vlan" in out.stderr and "only allowed with spec.type Vlan" in out.stderr


def test_replace_with_a_stale_object_is_a_conflict(kubeconfig: Path, tmp_path: Path) -> None:
    assert kubectl(kubeconfig, "apply", "-f", str(samples_dir() / "03-sriovl2network.yaml")).returncode == 0
    stale = kubectl(kubeconfig, "get", "srl2", "l2-em2-vlan100", "-o", "yaml").stdout
    patch = '{"spec":{"vlan":101}}'
    edited = kubectl(kubeconfig, "patch", "srl2", "l2-em2-vlan100", "--type=merge", "-p", patch)
    assert edited.returncode == 0, edited.stderr
    path = tmp_path / "stale.yaml"
    path.write_text(stale.replace("vlan: 100", "vlan: 102"))
    out = kubectl(kubeconfig, "replace", "-f", str(path))
    assert out.returncode != 0
    assert "the object has been modified" in out.stderr


def test_server_side_apply_creates_and_updates(kubeconfig: Path) -> None:
    sample = str(samples_dir() / "03-sriovl2network.yaml")
    first = kubectl(kubeconfig, "apply", "--server-side", "-f", sample)
    assert first.returncode == 0, first.stderr
    changed = (samples_dir() / "03-sriovl2network.yaml").read_text().replace("vlan: 100", "vlan: 200")
    second = kubectl(kubeconfig, "apply", "--server-side", "-f", "-", stdin=changed)
    assert second.returncode == 0, second.stderr
    vlan = kubectl(kubeconfig, "get", "srl2", "l2-em2-vlan100", "-o", "jsonpath={.spec.vlan}").stdout
    assert vlan == "200"


def test_describe_shows_the_spec(kubeconfig: Path) -> None:
    assert kubectl(kubeconfig, "apply", "-f", str(samples_dir() / "04-sriovl3network.yaml")).returncode == 0
    out = kubectl(kubeconfig, "describe", "sriovl3network", "l3-vlan100")
    assert out.returncode == 0, out.stderr
    assert "192.168.100.0/24" in out.stdout and "l2-em2-vlan100" in out.stdout
