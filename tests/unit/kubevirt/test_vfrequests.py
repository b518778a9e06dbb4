"""Who adds VF requests to launcher pods, from the KubeVirt CR (feature gate, version) and our knobs."""

from __future__ import annotations

from typing import Any

import pytest

from kvsriov.kubevirt.vfrequests import GATE, Injector, kubevirt_config, vf_request_mode


def cr(version: str | None, enabled: tuple[str, ...] = (), disabled: tuple[str, ...] = ()) -> dict[str, Any]:
    dev: dict[str, Any] = {}
    if enabled:
        dev["featureGates"] = list(enabled)
    if disabled:
        dev["disabledFeatureGates"] = list(disabled)
    status = {"observedKubeVirtVersion": version} if version else {}
    return {"spec": {"configuration": {"developerConfiguration": dev}}, "status": status}


@pytest.mark.parametrize(
    ("body", "gate"),
    [
        (cr("v1.9.0"), True),  # Beta gates on by default since 1.9
        (cr("v1.10.2"), True),
        (cr("v1.8.1"), False),
        (cr("v1.8.0", enabled=(GATE,)), True),
        (cr("v1.7.0", enabled=(GATE,)), False),  # 1.7 has no such gate: it always adds them
        (cr("v1.9.0", disabled=(GATE,)), False),
        (cr(None), None),
        (None, None),
    ],
)
def test_the_gate_follows_version_and_the_gate_lists(body: dict[str, Any] | None, gate: bool | None) -> None:
    assert kubevirt_config(body).gate_enabled is gate


def test_kubevirt_with_the_gate_off_adds_them_itself() -> None:
    mode = vf_request_mode(kubevirt_config(cr("v1.8.1")), "kvsriov", True)
    assert (mode.injector, mode.status) == (Injector.KUBEVIRT, "True")
    assert "virt-controller adds" in mode.message


def test_on_a_default_19_cluster_kvsriovs_webhook_adds_them() -> None:
    mode = vf_request_mode(kubevirt_config(cr("v1.9.0")), "kvsriov", True)
    assert (mode.injector, mode.status) == (Injector.KVSRIOV, "True")
    nri = vf_request_mode(kubevirt_config(cr("v1.9.0")), "network-resources-injector", True)
    assert nri.injector == Injector.NETWORK_RESOURCES_INJECTOR


def test_nobody_adding_them_is_a_false_condition_that_says_what_to_do() -> None:
    mode = vf_request_mode(kubevirt_config(cr("v1.9.0")), "kvsriov", webhook_served=False)
    assert (mode.injector, mode.status) == (Injector.NOBODY, "False")
    assert "disabledFeatureGates" in mode.message and "--webhook-server none" in mode.message
