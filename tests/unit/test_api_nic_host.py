"""SriovPhysicalNic and SriovHost: numVfs bounds, naming, derived display fields."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from kvsriov.api import SriovHost, SriovPhysicalNic
from kvsriov.api.errors import field_errors
from kvsriov.api.naming import label_value, nic_object_name, pcidevice_env_name, resource_name, vnic_nad_name


def nic(name: str = "node-1.em2", **spec: Any) -> SriovPhysicalNic:
    return SriovPhysicalNic.model_validate(
        {"metadata": {"name": name}, "spec": {"nodeName": "node-1", "interface": "em2", **spec}}
    )


def test_defaults_restore_state_and_vfio() -> None:
    obj = nic()
    assert (obj.spec.num_vfs, obj.spec.vf_driver, obj.spec.force) == (0, "vfio-pci", False)


def test_negative_numvfs_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        nic(numVfs=-1)
    [err] = field_errors(info.value)
    assert err.field == "spec.numVfs"
    assert "greater than or equal to 0" in err.message


def test_unknown_vf_driver_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        nic(vfDriver="igbvf")
    [err] = field_errors(info.value)
    assert err.field == "spec.vfDriver"
    assert "'vfio-pci' or 'netdevice'" in err.message


def test_name_must_be_node_dot_interface() -> None:
    with pytest.raises(ValidationError) as info:
        nic(name="em2")
    [err] = field_errors(info.value)
    assert err.field == "metadata.name"
    assert "'node-1.em2'" in err.message


def test_plain_names_are_kept() -> None:
    assert nic_object_name("worker-1", "em2") == "worker-1.em2"
    assert nic_object_name("worker-1", "enp3s0f1") == "worker-1.enp3s0f1"


def test_mapped_names_get_a_short_hash_and_do_not_collide() -> None:
    a, b = nic_object_name("worker-1", "eth_0"), nic_object_name("worker-1", "eth-0")
    assert a.startswith("worker-1.eth-0-") and len(a) == len("worker-1.eth-0-") + 6
    assert a != b
    assert nic_object_name("Worker", "Em2") != "worker.em2"


def test_mapped_name_is_a_valid_dns_subdomain() -> None:
    name = nic_object_name("n", "p@x:y")
    assert all(c.isalnum() or c in ".-" for c in name) and name == name.lower()


def test_names_derived_from_a_253_character_node_or_network_stay_valid() -> None:
    """Object names may have 253 characters; a label value 63, an object name 253 again."""
    node, l3 = "n" * 253, "l" * 253
    assert len(nic_object_name(node, "em2")) <= 253 and nic_object_name(node, "em2") != nic_object_name(
        node, "em3"
    )
    assert len(vnic_nad_name(l3)) <= 253 and vnic_nad_name(l3).endswith("-vnic")
    value = label_value(node)
    assert len(value) == 63 and value != label_value("n" * 252)
    assert re.fullmatch(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]", value)
    assert label_value("node-1") == "node-1" and label_value("") == ""
    assert label_value("eth@0") != label_value("eth_0")


def test_resource_name_maps_interface_names() -> None:
    assert resource_name("em2") == "kvsriov.io/em2"
    mapped = resource_name("eth0@x")
    assert mapped.startswith("kvsriov.io/eth0_x_") and mapped != resource_name("eth0_x")


def test_pcidevice_env_name_follows_kubevirt() -> None:
    assert pcidevice_env_name("kvsriov.io/em2") == "PCIDEVICE_KVSRIOV_IO_EM2"


def test_status_derives_vfs_summary_and_speed() -> None:
    obj = nic(numVfs=32)
    obj = SriovPhysicalNic.model_validate(
        {**obj.to_api(), "status": {"numVfs": 32, "vfsAvailable": 30, "speedMbps": 10000}}
    )
    assert obj.status is not None
    assert obj.status.vfs_summary == "30/32"
    assert obj.status.speed == "10 Gb/s"


def test_host_spec_defaults_to_hands_off() -> None:
    host = SriovHost.model_validate({"metadata": {"name": "node-1"}})
    assert not host.spec.configure_kernel_args and not host.spec.allow_unsafe_interrupts
