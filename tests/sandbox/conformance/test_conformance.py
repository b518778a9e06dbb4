"""Differential conformance: the same client scenarios against the emulated and the real kube-apiserver.

Each scenario runs once against each server through raw HTTP (see recording.py), and the two
normalised recordings are compared leaf by leaf. Every difference must be listed, with its
reason, in known_differences.yaml; a listed difference that no longer occurs fails too, so
that file stays short and true. Tests skip, with the reason, where the real server cannot be built.
"""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from apiserver_helpers import GROUP, PLURAL, VERSION, widget
from recording import Recorder, differences
from test_apiserver_admission import Webhook, hook_config, make_tls

from kvsriov.sandbox.apiserver.server import EmulatedApiServer
from kvsriov.sandbox.real_apiserver import RealApiServer, reset
from kvsriov.sandbox.wait import wait_for

KNOWN = Path(__file__).with_name("known_differences.yaml")
WIDGETS = f"/apis/{GROUP}/{VERSION}/{PLURAL}"
L2 = "/apis/kvsriov.io/v1alpha1/sriovl2networks"
L3 = "/apis/kvsriov.io/v1alpha1/sriovl3networks"
VWC = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"


def l2(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kvsriov.io/v1alpha1",
        "kind": "SriovL2Network",
        "metadata": {"name": name},
        "spec": {"type": "Vlan", "physicalInterface": "em2", "vlan": 100, **spec},
    }


def l3(name: str, cidr: str, start: str, end: str) -> dict[str, Any]:
    return {
        "apiVersion": "kvsriov.io/v1alpha1",
        "kind": "SriovL3Network",
        "metadata": {"name": name},
        "spec": {"l2Network": "l2", "ipam": {"cidr": cidr, "ranges": [{"start": start, "end": end}]}},
    }


# ---- scenarios -----------------------------------------------------------------------------------


def create_get(r: Recorder, _: Any) -> None:
    r.step("create", "POST", WIDGETS, widget("a", size=1))
    r.step("create again", "POST", WIDGETS, widget("a", size=1))
    r.step("get", "GET", f"{WIDGETS}/a")
    r.step("get missing", "GET", f"{WIDGETS}/missing")
    r.step("create without name", "POST", WIDGETS, {**widget("x"), "metadata": {}})
    r.step("create with generateName", "POST", WIDGETS, {**widget("x"), "metadata": {"generateName": "g-"}})
    r.step("delete", "DELETE", f"{WIDGETS}/a")
    r.step("delete missing", "DELETE", f"{WIDGETS}/a")


def list_selectors(r: Recorder, _: Any) -> None:
    for name, labels in (("a", {"env": "prod", "tier": "web"}), ("b", {"env": "dev"}), ("c", {})):
        r.call("POST", WIDGETS, widget(name, labels=labels, size=1))
    for selector in (
        "env=prod",
        "env!=prod",
        "env in (prod,dev)",
        "env notin (prod)",
        "!env",
        "tier",
        "env=prod,tier=db",
    ):
        status, body, _ = r.call("GET", WIDGETS, query={"labelSelector": selector})
        r.note(
            f"labelSelector {selector}",
            (status, sorted(i["metadata"]["name"] for i in body.get("items", []))),
        )
    r.step("list env=prod", "GET", WIDGETS, query={"labelSelector": "env=prod"})
    r.step("invalid selector", "GET", WIDGETS, query={"labelSelector": "env in prod"})
    r.step("fieldSelector name", "GET", WIDGETS, query={"fieldSelector": "metadata.name=b"})
    r.step("fieldSelector unsupported", "GET", WIDGETS, query={"fieldSelector": "spec.size=1"})
    r.step("limit", "GET", WIDGETS, query={"limit": "2"})


def watch_selectors(r: Recorder, _: Any) -> None:
    r.call("POST", WIDGETS, widget("a", labels={"env": "prod"}, size=1))
    _, listing, _ = r.call("GET", WIDGETS, query={"labelSelector": "env=prod"})
    rv = listing["metadata"]["resourceVersion"]

    def act() -> None:
        r.call("POST", WIDGETS, widget("b", labels={"env": "prod"}, size=1))
        r.call("POST", WIDGETS, widget("c", labels={"env": "dev"}, size=1))
        r.call("PATCH", f"{WIDGETS}/c", {"metadata": {"labels": {"env": "prod"}}}, content_type=MERGE)
        r.call("PATCH", f"{WIDGETS}/a", {"metadata": {"labels": {"env": "dev"}}}, content_type=MERGE)
        r.call("PATCH", f"{WIDGETS}/b", {"spec": {"size": 2}}, content_type=MERGE)
        r.call("DELETE", f"{WIDGETS}/c")

    r.watch(
        "watch env=prod from the list", WIDGETS, {"labelSelector": "env=prod", "resourceVersion": rv}, act, 5
    )
    r.watch(
        "watch env=prod from now (initial events)", WIDGETS, {"labelSelector": "env=prod"}, lambda: None, 1
    )


def patches(r: Recorder, _: Any) -> None:
    r.call("POST", WIDGETS, widget("a", labels={"x": "1"}, size=1, note="n"))
    r.step("merge patch", "PATCH", f"{WIDGETS}/a", {"spec": {"size": 2, "note": None}}, content_type=MERGE)
    ops = [
        {"op": "replace", "path": "/spec/size", "value": 3},
        {"op": "add", "path": "/metadata/labels/y", "value": "2"},
    ]
    r.step("json patch", "PATCH", f"{WIDGETS}/a", ops, content_type=JSON_PATCH)
    r.step(
        "json patch failed test",
        "PATCH",
        f"{WIDGETS}/a",
        [{"op": "test", "path": "/spec/size", "value": 9}],
        content_type=JSON_PATCH,
    )
    r.step(
        "json patch bad path",
        "PATCH",
        f"{WIDGETS}/a",
        [{"op": "remove", "path": "/spec/nothing"}],
        content_type=JSON_PATCH,
    )
    r.step("merge patch invalid value", "PATCH", f"{WIDGETS}/a", {"spec": {"size": 100}}, content_type=MERGE)
    r.step(
        "strategic merge patch on a custom resource",
        "PATCH",
        f"{WIDGETS}/a",
        {"spec": {"size": 4}},
        content_type=STRATEGIC,
    )
    r.step("patch missing", "PATCH", f"{WIDGETS}/missing", {"spec": {"size": 4}}, content_type=MERGE)
    applied = yaml.safe_dump(widget("s", size=5, note="mine"))
    r.step(
        "apply creates", "PATCH", f"{WIDGETS}/s", applied, query={"fieldManager": "one"}, content_type=APPLY
    )
    r.step(
        "apply updates",
        "PATCH",
        f"{WIDGETS}/s",
        yaml.safe_dump(widget("s", size=6)),
        query={"fieldManager": "one"},
        content_type=APPLY,
    )
    r.step("apply without fieldManager", "PATCH", f"{WIDGETS}/s", applied, content_type=APPLY)
    r.step(
        "apply by another manager, conflicting",
        "PATCH",
        f"{WIDGETS}/s",
        yaml.safe_dump(widget("s", size=7)),
        query={"fieldManager": "two"},
        content_type=APPLY,
    )
    r.step(
        "apply by another manager, forced",
        "PATCH",
        f"{WIDGETS}/s",
        yaml.safe_dump(widget("s", size=7)),
        query={"fieldManager": "two", "force": "true"},
        content_type=APPLY,
    )


def stale_update(r: Recorder, _: Any) -> None:
    _, created, _ = r.call("POST", WIDGETS, widget("a", size=1))
    r.call("PATCH", f"{WIDGETS}/a", {"spec": {"size": 2}}, content_type=MERGE)
    stale = copy.deepcopy(created)
    stale["spec"]["size"] = 3
    r.step("update with a stale resourceVersion", "PUT", f"{WIDGETS}/a", stale)
    del stale["metadata"]["resourceVersion"]
    r.step("update without resourceVersion", "PUT", f"{WIDGETS}/a", stale)
    _, fresh, _ = r.call("GET", f"{WIDGETS}/a")
    fresh["spec"]["size"] = 4
    r.step("update with the current resourceVersion", "PUT", f"{WIDGETS}/a", fresh)
    fresh["metadata"]["name"] = "b"
    r.step("update with a mismatched name", "PUT", f"{WIDGETS}/a", fresh)


def status_and_generation(r: Recorder, _: Any) -> None:
    r.step("create with status", "POST", WIDGETS, {**widget("a", size=1), "status": {"phase": "Set"}})
    r.step(
        "main patch touching status",
        "PATCH",
        f"{WIDGETS}/a",
        {"status": {"phase": "Main"}},
        content_type=MERGE,
    )
    r.step(
        "status patch",
        "PATCH",
        f"{WIDGETS}/a/status",
        {"status": {"phase": "Ready"}, "spec": {"size": 9}},
        content_type=MERGE,
    )
    r.step(
        "label patch (no generation bump)",
        "PATCH",
        f"{WIDGETS}/a",
        {"metadata": {"labels": {"l": "v"}}},
        content_type=MERGE,
    )
    r.step("spec patch (generation bump)", "PATCH", f"{WIDGETS}/a", {"spec": {"size": 2}}, content_type=MERGE)
    r.step("same spec again (no bump)", "PATCH", f"{WIDGETS}/a", {"spec": {"size": 2}}, content_type=MERGE)
    _, current, _ = r.call("GET", f"{WIDGETS}/a/status")
    current["status"] = {"phase": "Put"}
    current["spec"]["size"] = 10
    r.step("status put", "PUT", f"{WIDGETS}/a/status", current)
    r.step("get status", "GET", f"{WIDGETS}/a/status")
    r.step(
        "status patch invalid",
        "PATCH",
        f"{WIDGETS}/a/status",
        {"status": {"observedGeneration": "x"}},
        content_type=MERGE,
    )


def finalizers(r: Recorder, _: Any) -> None:
    body = widget("a", size=1)
    body["metadata"]["finalizers"] = ["example.kvsriov.io/keep"]
    r.step("create with a finalizer", "POST", WIDGETS, body)
    r.step("delete", "DELETE", f"{WIDGETS}/a")
    r.step("get while terminating", "GET", f"{WIDGETS}/a")
    r.step("delete again", "DELETE", f"{WIDGETS}/a")
    r.step("spec patch while terminating", "PATCH", f"{WIDGETS}/a", {"spec": {"size": 2}}, content_type=MERGE)
    r.step(
        "add a finalizer while terminating",
        "PATCH",
        f"{WIDGETS}/a",
        {"metadata": {"finalizers": ["example.kvsriov.io/keep", "example.kvsriov.io/new"]}},
        content_type=MERGE,
    )
    r.step(
        "remove the finalizer",
        "PATCH",
        f"{WIDGETS}/a",
        {"metadata": {"finalizers": None}},
        content_type=MERGE,
    )
    r.step("get after", "GET", f"{WIDGETS}/a")


def watch_resume_and_gone(r: Recorder, _: Any) -> None:
    _, created, _ = r.call("POST", WIDGETS, widget("a", size=1))
    rv = created["metadata"]["resourceVersion"]
    r.call("PATCH", f"{WIDGETS}/a", {"spec": {"size": 2}}, content_type=MERGE)
    r.call("DELETE", f"{WIDGETS}/a")
    r.watch("resume from the create", WIDGETS, {"resourceVersion": rv}, lambda: None, 2)
    r.watch("resume from resourceVersion 1", WIDGETS, {"resourceVersion": "1"}, lambda: None, 1)
    r.step(
        "list at resourceVersion 1 exactly",
        "GET",
        WIDGETS,
        query={"resourceVersion": "1", "resourceVersionMatch": "Exact"},
    )
    r.step(
        "watch with a malformed resourceVersion",
        "GET",
        WIDGETS,
        query={"watch": "true", "resourceVersion": "x"},
    )


def schema_refusals(r: Recorder, _: Any) -> None:
    r.step("vlan 5000", "POST", L2, l2("bad-vlan", vlan=5000))
    r.step("Vxlan", "POST", L2, l2("overlay", type="Vxlan", vlan=None))
    missing = l2("missing")
    del missing["spec"]["physicalInterface"]
    r.step("missing required", "POST", L2, missing)
    r.step("wrong type", "POST", L2, l2("wrong", vlan="ten"))
    r.step("unknown field, Strict", "POST", L2, l2("unknown", foo="x"), query={"fieldValidation": "Strict"})
    r.step("unknown field, Warn", "POST", L2, l2("unknown-warn", foo="x"), query={"fieldValidation": "Warn"})
    r.step("unknown field, default (pruned)", "POST", L2, l2("unknown-default", foo="x"))
    r.step("several errors at once", "POST", L2, l2("several", vlan=0, physicalInterface="a/b", type="Other"))


def cel_refusals(r: Recorder, _: Any) -> None:
    r.step("vlan with NoVlan", "POST", L2, l2("novlan", type="NoVlan", vlan=10))
    vlan = l2("vlan-missing")
    del vlan["spec"]["vlan"]
    r.step("Vlan without vlan", "POST", L2, vlan)
    r.step("range outside cidr", "POST", L3, l3("outside", "192.168.1.0/24", "192.168.2.10", "192.168.2.20"))
    r.step("not a cidr", "POST", L3, l3("notcidr", "192.168.1.0/33", "192.168.1.10", "192.168.1.20"))
    r.step("range inside cidr", "POST", L3, l3("inside", "10.0.0.0/8", "10.1.0.1", "10.1.0.9"))
    r.step(
        "update keeps the rule",
        "PATCH",
        f"{L2}/vlan-missing",
        {"spec": {"type": "NoVlan"}},
        content_type=MERGE,
    )


def names_and_labels(r: Recorder, _: Any) -> None:
    """metadata.name, label keys and values on writes, label selectors on reads, `.` in URLs."""
    namespaces, configmaps = "/api/v1/namespaces", "/api/v1/namespaces/default/configmaps"
    r.step("name of 253 characters", "POST", L2, l2("a" * 253))
    r.step("name not a DNS subdomain", "POST", L2, l2("Bad_Name"))
    r.step("name too long and not DNS-safe", "POST", L2, l2("x" * 254 + "_"))
    r.step("name '.'", "POST", L2, l2("."))
    r.step("name with a slash", "POST", L2, l2("a/b"))
    r.step("namespace name with a dot", "POST", namespaces, {"metadata": {"name": "a.b"}})
    r.step("namespace name with upper case", "POST", namespaces, {"metadata": {"name": "Upper"}})
    r.step("configmap name not DNS-safe", "POST", configmaps, {"metadata": {"name": "Bad_cm"}})
    too_long = "v" * 64
    labelled = l2("labelled")
    labelled["metadata"]["labels"] = {"k": too_long}
    r.step("label value of 64 characters", "POST", L2, labelled)
    labelled["metadata"]["labels"] = {"bad key!": "v", "a/b/c": "x", "/x": "y", "Ex.com/y": "-bad-"}
    r.step("label keys and values not valid", "POST", L2, labelled)
    r.call("POST", L2, l2("keep"))
    bad_label = {"metadata": {"labels": {"k": too_long}}}
    r.step("label value of 64 characters on update", "PATCH", f"{L2}/keep", bad_label, content_type=MERGE)
    r.call("POST", configmaps, {"metadata": {"name": "cm"}})
    r.step("configmap label on update", "PATCH", f"{configmaps}/cm", bad_label, content_type=MERGE)
    r.step("selector value of 64 characters", "GET", L2, query={"labelSelector": f"k={too_long}"})
    r.step("selector key not qualified", "GET", L2, query={"labelSelector": "a/b/c=x"})
    r.step("selector second term", "GET", L2, query={"labelSelector": f"k=x,k2 in (b,{too_long})"})
    r.step("selector key of 64 characters", "GET", L2, query={"labelSelector": "!" + "k" * 64})
    r.step(
        "watch with a selector value of 64 characters",
        "GET",
        L2,
        query={"watch": "true", "timeoutSeconds": "2", "labelSelector": f"k={too_long}"},
    )
    r.step("get '.'", "GET", f"{L2}/.")
    r.step("delete '.'", "DELETE", f"{L2}/.")
    r.step("delete '..'", "DELETE", f"{L2}/..")
    r.step("delete %2E", "DELETE", f"{L2}/%2E")
    r.step("delete '.' in a namespace", "DELETE", f"{configmaps}/.")
    r.step("get namespace '..'", "GET", f"{namespaces}/..")
    _, listed, _ = r.call("GET", L2)
    r.note("left after the refused deletes", sorted(i["metadata"]["name"][:8] for i in listed["items"]))


def table_output(r: Recorder, _: Any) -> None:
    r.call("POST", WIDGETS, widget("a", size=3, mode="Vlan", vlan=9))
    r.call(
        "PATCH",
        f"{WIDGETS}/a/status",
        {"status": {"phase": "Ready", "conditions": [{"type": "Ready", "status": "True"}]}},
        content_type=MERGE,
    )
    r.call("POST", WIDGETS, widget("b", size=1))
    r.step("table list", "GET", WIDGETS, accept=TABLE)
    r.step("table get", "GET", f"{WIDGETS}/a", accept=TABLE)
    r.step("table without object", "GET", WIDGETS, accept=TABLE, query={"includeObject": "None"})
    r.call("POST", L2, l2("l2"))
    r.step("l2 table", "GET", L2, accept=TABLE)


def webhooks(r: Recorder, ctx: dict[str, Any]) -> None:
    tls, webhook = ctx["tls"], ctx["webhook"]
    probe = widget("probe", size=1)

    def probe_code() -> int:
        return r.call("POST", WIDGETS, probe, query={"dryRun": "All"})[0]

    def respond(request: dict[str, Any]) -> dict[str, Any]:
        size = request["object"]["spec"].get("size", 0)
        if size == 5:
            return {"allowed": False, "status": {"message": "five is right out"}}
        if size % 2:
            return {"allowed": False, "status": {"message": "size must be even", "code": 403}}
        return {"allowed": True}

    webhook.respond = respond
    config = hook_config(webhook.url, tls.ca_bundle)
    status, registered, _ = r.call("POST", VWC, config)
    r.note("register", (status, {k: v for k, v in registered["webhooks"][0].items() if k != "clientConfig"}))
    try:
        wait_for(lambda: probe_code() == 403, timeout=30, what="the webhook configuration to take effect")
        webhook.reviews.clear()
        r.step("denied", "POST", WIDGETS, widget("a", size=3))
        r.step("denied without a code", "POST", WIDGETS, widget("a", size=5))
        r.step("allowed", "POST", WIDGETS, widget("b", size=2))
        review = webhook.reviews[-1]
        r.note(
            "review request", {k: review.get(k) for k in ("kind", "resource", "operation", "name", "dryRun")}
        )
        webhook.stop()
        r.step("Fail with the webhook down", "POST", WIDGETS, widget("c", size=2))
        _, current, _ = r.call("GET", f"{VWC}/test")
        current["webhooks"][0]["failurePolicy"] = "Ignore"
        r.call("PUT", f"{VWC}/test", current)
        wait_for(lambda: probe_code() == 201, timeout=30, what="failurePolicy Ignore to take effect")
        r.step("Ignore with the webhook down", "POST", WIDGETS, widget("d", size=2))
    finally:
        r.call("DELETE", f"{VWC}/test")


SCENARIOS: dict[str, Callable[[Recorder, Any], None]] = {
    f.__name__: f
    for f in (
        create_get,
        list_selectors,
        watch_selectors,
        patches,
        stale_update,
        status_and_generation,
        finalizers,
        watch_resume_and_gone,
        schema_refusals,
        cel_refusals,
        names_and_labels,
        table_output,
        webhooks,
    )
}


def run(scenario: str, kubeconfig: Path, tmp_path: Path) -> list[dict[str, Any]]:
    recorder = Recorder.from_kubeconfig(kubeconfig)
    ctx: dict[str, Any] = {}
    if scenario == "webhooks":
        tmp_path.mkdir(parents=True, exist_ok=True)
        tls = make_tls(tmp_path)
        webhook = Webhook(tls)
        webhook.start()
        ctx = {"tls": tls, "webhook": webhook}
    try:
        SCENARIOS[scenario](recorder, ctx)
    finally:
        if ctx and ctx["webhook"]._thread.is_alive():
            ctx["webhook"].stop()
    return recorder.steps


def known(scenario: str) -> dict[str, list[str]]:
    """The listed differences of one scenario: step -> the paths that differ."""
    entries = yaml.safe_load(KNOWN.read_text()) or []
    return {e["step"]: sorted(e["paths"]) for e in entries if e["scenario"] == scenario}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_scenario_sees_the_same_on_both_servers(
    scenario: str, apiserver: EmulatedApiServer, real_apiserver: RealApiServer, tmp_path: Path
) -> None:
    emulated = run(scenario, apiserver.write_kubeconfig(tmp_path / "emulated.kubeconfig"), tmp_path / "e")
    try:
        real = run(scenario, real_apiserver.kubeconfig, tmp_path / "r")
    finally:
        reset(real_apiserver.kubeconfig)
    found = differences(emulated, real)
    by_step: dict[str, list[str]] = {}
    for difference in found:
        by_step.setdefault(difference["step"], []).append(difference["path"])
    by_step = {step: sorted(paths) for step, paths in by_step.items()}
    listed = known(scenario)
    unlisted = [d for d in found if listed.get(d["step"]) != by_step[d["step"]]]
    gone = {step: paths for step, paths in listed.items() if by_step.get(step) != paths}
    assert not unlisted and not gone, (
        f"{scenario}: differences not (or not so) listed in {KNOWN.name}:\n"
        f"{yaml.safe_dump(unlisted, sort_keys=False)}\n"
        f"listed but not seen like that (fix or remove the entry):\n{yaml.safe_dump(gone, sort_keys=False)}"
    )


def test_known_differences_are_justified() -> None:
    for entry in yaml.safe_load(KNOWN.read_text()) or []:
        assert entry["scenario"] in SCENARIOS, entry
        assert len(str(entry.get("why", ""))) > 20 and entry.get("what"), f"say what and why: {entry}"
        assert entry["paths"], entry


def test_our_crds_are_accepted_by_the_real_server_unchanged(real_apiserver: RealApiServer) -> None:
    repo_crds = Path(__file__).resolve().parents[3] / "crds"
    kubectl = ["kubectl", "--kubeconfig", str(real_apiserver.kubeconfig)]
    again = subprocess.run(
        [*kubectl, "apply", "--server-side", "--dry-run=server", "-f", str(repo_crds)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert "Warning" not in again.stderr, again.stderr
    for path in sorted(repo_crds.glob("*.yaml")):
        name = yaml.safe_load(path.read_text())["metadata"]["name"]
        got = subprocess.run(
            [*kubectl, "get", "crd", name, "-o", "yaml"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert got.returncode == 0 and not got.stderr.strip(), got.stderr
        crd = yaml.safe_load(got.stdout)
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions.get("Established") == "True" and conditions.get("NamesAccepted") == "True", (
            conditions
        )
        assert "NonStructuralSchema" not in conditions, crd["status"]["conditions"]
