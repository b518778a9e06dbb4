"""Admission webhooks called by the emulated API server, over real HTTPS.

A small aiohttp HTTPS webhook runs in a thread with a certificate for
127.0.0.1 signed by a CA made here; Validating/MutatingWebhookConfigurations
point at it with that CA as ``caBundle``.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kopf
import pytest
from aiohttp import web
from apiserver_helpers import GROUP, PLURAL, VERSION, raw, widget
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kvsriov.sandbox.apiserver.server import EmulatedApiServer
from kvsriov.sandbox.wait import wait_for

ADMISSION = "/apis/admissionregistration.k8s.io/v1"
WIDGETS = f"/apis/{GROUP}/{VERSION}/{PLURAL}"
HOOK = "check.example.kvsriov.io"


# ---- certificates --------------------------------------------------------------------------------


@dataclass
class Tls:
    """A CA and a server certificate for 127.0.0.1, as PEM files."""

    ca_pem: bytes
    ca_file: Path
    cert_file: Path
    key_file: Path

    @property
    def ca_bundle(self) -> str:
        return base64.b64encode(self.ca_pem).decode()


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_ca(cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def make_tls(directory: Path) -> Tls:
    ca, ca_key = make_ca("kvsriov-test-ca")
    key = ec.generate_private_key(ec.SECP256R1())
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    tls = Tls(_pem(ca), directory / "ca.pem", directory / "tls.crt", directory / "tls.key")
    tls.ca_file.write_bytes(tls.ca_pem)
    tls.cert_file.write_bytes(_pem(cert))
    tls.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return tls


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- the webhook server --------------------------------------------------------------------------


class Webhook:
    """An HTTPS admission webhook in a thread; ``respond`` decides, ``reviews`` records requests."""

    def __init__(self, tls: Tls) -> None:
        self.tls = tls
        self.reviews: list[dict[str, Any]] = []
        self.respond: Callable[[dict[str, Any]], dict[str, Any]] = lambda request: {"allowed": True}
        self.hang = False
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._release: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="test-webhook", daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/review"

    async def _handle(self, request: web.Request) -> web.Response:
        review = await request.json()
        self.reviews.append(review["request"])
        if self.hang:
            assert self._release is not None
            await self._release.wait()  # until teardown: the server's timeout must end the call first
        answer = {"uid": review["request"]["uid"], **self.respond(review["request"])}
        return web.json_response(
            {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": answer}
        )

    async def _start(self) -> None:
        self._release = asyncio.Event()
        app = web.Application()
        app.router.add_post("/review", self._handle)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.tls.cert_file, self.tls.key_file)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=context).start()

    async def _stop(self) -> None:
        assert self._release is not None and self._runner is not None
        self._release.set()
        await self._runner.cleanup()

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def tls(tmp_path: Path) -> Tls:
    return make_tls(tmp_path)


@pytest.fixture
def webhook(tls: Tls) -> Iterator[Webhook]:
    server = Webhook(tls)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def hook_config(
    url: str,
    ca_bundle: str | None,
    kind: str = "ValidatingWebhookConfiguration",
    resources: tuple[str, ...] = (PLURAL,),
    group: str = GROUP,
    **overrides: Any,
) -> dict[str, Any]:
    """A one-webhook configuration; ``overrides`` replace fields of the webhook."""
    client_config: dict[str, Any] = {"url": url}
    if ca_bundle:
        client_config["caBundle"] = ca_bundle
    hook = {
        "name": HOOK,
        "clientConfig": client_config,
        "rules": [
            {
                "apiGroups": [group],
                "apiVersions": ["*"],
                "resources": list(resources),
                "operations": ["CREATE", "UPDATE", "DELETE"],
                "scope": "*",
            }
        ],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "failurePolicy": "Fail",
        **overrides,
    }
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": "test"},
        "webhooks": [hook],
    }


def register(apiserver: EmulatedApiServer, config: dict[str, Any]) -> None:
    plural = config["kind"].lower() + "s"
    status, _, body = raw(apiserver.url, "POST", f"{ADMISSION}/{plural}", config)
    assert status == 201, body


def create_widget(apiserver: EmulatedApiServer, name: str = "a", **kwargs: Any) -> tuple[int, dict, Any]:
    return raw(apiserver.url, "POST", WIDGETS, widget(name, **kwargs))


def deny(message: str, code: int | None = None) -> Callable[[dict[str, Any]], dict[str, Any]]:
    status: dict[str, Any] = {"message": message}
    if code is not None:
        status["code"] = code
    return lambda request: {"allowed": False, "status": status}


# ---- tests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [None, 400])
def test_denied_create_is_refused_with_the_real_wording(apiserver, webhook, tls, code):
    register(apiserver, hook_config(webhook.url, tls.ca_bundle))
    webhook.respond = deny("size must be even", code)
    status, _, body = create_widget(apiserver, size=3)
    # The webhook's own Status comes back (ToStatusErr): a code below 400 becomes 400, no reason or
    # details are invented (checked against a real kube-apiserver by tests/sandbox/conformance).
    assert status == 400
    assert "reason" not in body and "details" not in body
    assert body["message"] == f'admission webhook "{HOOK}" denied the request: size must be even'
    assert raw(apiserver.url, "GET", f"{WIDGETS}/a")[0] == 404


def test_allowed_create_is_stored_and_the_review_is_complete(apiserver, webhook, tls):
    register(apiserver, hook_config(webhook.url, tls.ca_bundle))
    status, _, _ = create_widget(apiserver, size=2)
    assert status == 201
    [request] = webhook.reviews
    assert request["operation"] == "CREATE" and request["name"] == "a" and request["oldObject"] is None
    assert request["kind"] == {"group": GROUP, "version": VERSION, "kind": "Widget"}
    assert request["resource"] == {"group": GROUP, "version": VERSION, "resource": PLURAL}
    assert request["requestResource"] == request["resource"] and "namespace" not in request
    assert request["object"]["spec"] == {"size": 2, "mode": "NoVlan"}  # after defaulting
    assert request["userInfo"]["username"] == "kvsriov-sandbox-admin" and request["dryRun"] is False
    assert request["options"]["kind"] == "CreateOptions"


def test_warnings_become_warning_headers(apiserver, webhook, tls):
    register(apiserver, hook_config(webhook.url, tls.ca_bundle))
    webhook.respond = lambda request: {"allowed": True, "warnings": ["size 3 is odd"]}
    status, headers, _ = create_widget(apiserver, size=3)
    assert status == 201 and headers["Warning"] == '299 - "size 3 is odd"'


def test_a_resource_outside_the_rules_is_not_sent(apiserver, webhook, tls):
    register(apiserver, hook_config(webhook.url, tls.ca_bundle, resources=("configmaps",), group=""))
    assert create_widget(apiserver)[0] == 201
    assert webhook.reviews == []
    cm = {"metadata": {"name": "c"}, "data": {}}
    assert raw(apiserver.url, "POST", "/api/v1/namespaces/default/configmaps", cm)[0] == 201
    assert [r["resource"]["resource"] for r in webhook.reviews] == ["configmaps"]


def test_status_subresource_rule(apiserver, webhook, tls):
    register(apiserver, hook_config(webhook.url, tls.ca_bundle, resources=(f"{PLURAL}/status",)))
    assert create_widget(apiserver)[0] == 201
    status_patch = {"status": {"phase": "Ready"}}
    path = f"{WIDGETS}/a/status"
    assert raw(apiserver.url, "PATCH", path, status_patch, "application/merge-patch+json")[0] == 200
    assert [(r["operation"], r.get("subResource")) for r in webhook.reviews] == [("UPDATE", "status")]


def test_object_selector(apiserver, webhook, tls):
    selector = {"matchLabels": {"checked": "yes"}}
    register(apiserver, hook_config(webhook.url, tls.ca_bundle, objectSelector=selector))
    assert create_widget(apiserver, "plain")[0] == 201
    assert create_widget(apiserver, "labelled", labels={"checked": "yes"})[0] == 201
    assert [r["name"] for r in webhook.reviews] == ["labelled"]


def test_namespace_selector(apiserver, webhook, tls):
    selector = {"matchExpressions": [{"key": "team", "operator": "In", "values": ["net"]}]}
    register(
        apiserver,
        hook_config(
            webhook.url, tls.ca_bundle, resources=("configmaps",), group="", namespaceSelector=selector
        ),
    )
    ns = {"metadata": {"name": "net", "labels": {"team": "net"}}}
    assert raw(apiserver.url, "POST", "/api/v1/namespaces", ns)[0] == 201
    for namespace in ("default", "net"):
        cm = {"metadata": {"name": "c"}}
        assert raw(apiserver.url, "POST", f"/api/v1/namespaces/{namespace}/configmaps", cm)[0] == 201
    assert [r["namespace"] for r in webhook.reviews] == ["net"]


def test_update_carries_the_old_object(apiserver, webhook, tls):
    assert create_widget(apiserver, size=1)[0] == 201
    register(apiserver, hook_config(webhook.url, tls.ca_bundle))
    patch = {"spec": {"size": 2}}
    assert raw(apiserver.url, "PATCH", f"{WIDGETS}/a", patch, "application/merge-patch+json")[0] == 200
    [request] = webhook.reviews
    assert request["operation"] == "UPDATE" and request["options"]["kind"] == "UpdateOptions"
    assert request["oldObject"]["spec"]["size"] == 1 and request["object"]["spec"]["size"] == 2


def test_delete_is_reviewed_and_can_be_denied(apiserver, webhook, tls):
    assert create_widget(apiserver)[0] == 201
    register(apiserver, hook_config(webhook.url, tls.ca_bundle))
    webhook.respond = deny("widgets are forever")
    status, _, body = raw(apiserver.url, "DELETE", f"{WIDGETS}/a")
    assert status == 400 and body["message"].endswith("denied the request: widgets are forever")
    [request] = webhook.reviews
    assert request["operation"] == "DELETE" and request["object"] is None
    assert request["oldObject"]["metadata"]["name"] == "a"
    assert raw(apiserver.url, "GET", f"{WIDGETS}/a")[0] == 200


def test_unreachable_webhook_with_failure_policy_fail_is_an_internal_error(apiserver, tls):
    port = free_port()
    url = f"https://127.0.0.1:{port}/review"  # nothing listens there
    register(apiserver, hook_config(url, tls.ca_bundle))
    status, _, body = create_widget(apiserver)
    assert status == 500 and body["reason"] == "InternalError"
    assert body["message"] == (
        f'Internal error occurred: failed calling webhook "{HOOK}": '
        f'failed to call webhook: Post "{url}?timeout=10s": '
        f"dial tcp 127.0.0.1:{port}: connect: connection refused"
    )
    assert raw(apiserver.url, "GET", f"{WIDGETS}/a")[0] == 404


def test_unreachable_webhook_with_failure_policy_ignore_is_skipped(apiserver, tls):
    url = f"https://127.0.0.1:{free_port()}/review"
    register(apiserver, hook_config(url, tls.ca_bundle, failurePolicy="Ignore"))
    assert create_widget(apiserver)[0] == 201


def test_timeout_is_honoured(apiserver, webhook, tls):
    register(apiserver, hook_config(webhook.url, tls.ca_bundle, timeoutSeconds=1))
    webhook.hang = True
    started = time.monotonic()
    status, _, body = create_widget(apiserver)
    assert status == 500 and body["message"].endswith("context deadline exceeded")
    assert time.monotonic() - started < 5
    assert len(webhook.reviews) == 1  # it was called, and hung


def test_wrong_ca_bundle_is_a_call_failure(apiserver, webhook, tmp_path):
    other_ca, _ = make_ca("some-other-ca")
    register(apiserver, hook_config(webhook.url, base64.b64encode(_pem(other_ca)).decode()))
    status, _, body = create_widget(apiserver)
    assert status == 500 and "tls: failed to verify certificate: " in body["message"]
    assert webhook.reviews == []


def test_service_reference_is_a_call_failure(apiserver, tls):
    config = hook_config("unused", tls.ca_bundle)
    config["webhooks"][0]["clientConfig"] = {"service": {"namespace": "ops", "name": "hooks"}}
    register(apiserver, config)
    status, _, body = create_widget(apiserver)
    assert status == 500 and 'service "ops/hooks" cannot be resolved' in body["message"]


def test_dry_run_refused_by_a_webhook_with_side_effects(apiserver, webhook, tls):
    register(apiserver, hook_config(webhook.url, tls.ca_bundle, sideEffects="Some"))
    status, _, body = raw(apiserver.url, "POST", f"{WIDGETS}?dryRun=All", widget("a"))
    assert status == 400 and body["message"] == f'admission webhook "{HOOK}" does not support dry run'
    assert webhook.reviews == []


def test_mutating_webhook_patch_is_applied(apiserver, webhook, tls):
    register(apiserver, hook_config(webhook.url, tls.ca_bundle, kind="MutatingWebhookConfiguration"))
    patch = [
        {"op": "add", "path": "/metadata/labels", "value": {"mutated": "yes"}},
        {"op": "replace", "path": "/spec/size", "value": 8},
    ]
    webhook.respond = lambda request: {
        "allowed": True,
        "patchType": "JSONPatch",
        "patch": base64.b64encode(json.dumps(patch).encode()).decode(),
    }
    assert create_widget(apiserver, size=1)[0] == 201
    _, _, stored = raw(apiserver.url, "GET", f"{WIDGETS}/a")
    assert stored["metadata"]["labels"] == {"mutated": "yes"} and stored["spec"]["size"] == 8


# ---- kopf's own admission machinery --------------------------------------------------------------


def test_kopf_managed_validating_webhook_refuses_through_the_server(apiserver, tls):
    registry = kopf.OperatorRegistry()
    port = free_port()

    @kopf.on.login(registry=registry)
    def login(**_: object) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=apiserver.url, insecure=True, scheme="Bearer", token="sandbox")

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: object) -> None:
        settings.watching.server_timeout = 30
        settings.admission.server = kopf.WebhookServer(
            addr="127.0.0.1",
            port=port,
            host="127.0.0.1",
            cafile=str(tls.ca_file),
            certfile=str(tls.cert_file),
            pkeyfile=str(tls.key_file),
        )
        settings.admission.managed = "auto.example.kvsriov.io"

    @kopf.on.validate(GROUP, VERSION, PLURAL, id="size", registry=registry)
    def check_size(spec: dict, **_: object) -> None:
        if spec.get("size", 0) > 10:
            raise kopf.AdmissionError("widgets larger than 10 are not sold", code=422)

    ready, stop = threading.Event(), threading.Event()

    def run() -> None:
        asyncio.run(
            kopf.operator(
                registry=registry, clusterwide=True, standalone=True, ready_flag=ready, stop_flag=stop
            )
        )

    thread = threading.Thread(target=run, name="kopf-admission", daemon=True)
    thread.start()
    try:
        assert ready.wait(20), "kopf did not become ready"

        def configured() -> bool:
            status, _, body = raw(
                apiserver.url, "GET", f"{ADMISSION}/validatingwebhookconfigurations/auto.example.kvsriov.io"
            )
            return status == 200 and bool(body.get("webhooks"))

        wait_for(configured, timeout=20, what="kopf to register its managed validating webhook")
        status, _, body = create_widget(apiserver, "big", size=20)
        assert status == 422, body
        assert body["message"] == (
            'admission webhook "size.auto.example.kvsriov.io" denied the request: '
            "widgets larger than 10 are not sold"
        )
        assert create_widget(apiserver, "small", size=2)[0] == 201
    finally:
        stop.set()
        thread.join(20)
