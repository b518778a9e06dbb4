"""Calls to the registered admission webhooks, as kube-apiserver makes them.

The Validating- and MutatingWebhookConfiguration objects are read from the
store on every write, so a configuration that an operator (kopf's managed
mode) creates or patches through the API takes effect at once. A webhook is
called when one of its ``rules`` matches the request (operation, group,
version, resource or ``resource/subresource``, scope) and its
``namespaceSelector`` and ``objectSelector`` match. The call is an
``AdmissionReview`` (admission.k8s.io/v1) POSTed over HTTPS to
``clientConfig.url``, verified against ``clientConfig.caBundle`` with
hostname checking; ``clientConfig.service`` cannot be reached from a
sandbox and counts as a failed call.

Mutating webhooks run one after another (ordered by configuration name, as
the real server does), their JSON patches applied in turn; validating
webhooks run concurrently. A denial becomes the real server's Status (see
``denied``); a failed call refuses with 500 InternalError under
``failurePolicy: Fail`` and is ignored under ``Ignore``. On a dry run, a
matching webhook whose ``sideEffects`` is neither None nor NoneOnDryRun
refuses the request with 400, as the real server does.

Not emulated: ``matchConditions`` (CEL; treated as matching),
``reinvocationPolicy``, ``matchPolicy`` version conversion (the request is
sent in the version it was made in), AdmissionReview v1beta1, and calls for
the admission configuration kinds themselves (never sent, as in the real
server, so a broken webhook cannot lock its own configuration).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import json
import os
import ssl
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jsonpatch

from .errors import ApiError, bad_request
from .resources import ResourceType
from .store import Store

Obj = dict[str, Any]
ADMISSION_GROUP = "admissionregistration.k8s.io"
VALIDATING = (ADMISSION_GROUP, "validatingwebhookconfigurations")
MUTATING = (ADMISSION_GROUP, "mutatingwebhookconfigurations")
NAMESPACES = ("", "namespaces")
USER_INFO = {"username": "kvsriov-sandbox-admin", "groups": ["system:masters", "system:authenticated"]}
_OPTIONS_KIND = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}


@dataclass
class Attributes:
    """What is being admitted: one operation on one object (``obj`` None for DELETE)."""

    rt: ResourceType
    operation: str  # CREATE | UPDATE | DELETE | CONNECT
    name: str
    namespace: str
    obj: Obj | None
    old: Obj | None
    subresource: str | None = None
    dry_run: bool = False
    field_manager: str | None = None
    warnings: list[str] = field(default_factory=list)


class CallError(Exception):
    """A webhook could not be called or answered nonsense (``failurePolicy`` decides)."""


# ---- matching ------------------------------------------------------------------------------------


def selector_matches(selector: Obj | None, labels: dict[str, str]) -> bool:
    """A metav1.LabelSelector (matchLabels + matchExpressions); absent or empty matches all."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


def rule_matches(rule: Obj, attrs: Attributes) -> bool:
    """One RuleWithOperations against the request (wildcards as in the real matcher)."""
    rt = attrs.rt
    operations = rule.get("operations") or []
    if "*" not in operations and attrs.operation not in operations:
        return False
    groups, versions = rule.get("apiGroups") or [], rule.get("apiVersions") or []
    if "*" not in groups and rt.group not in groups:
        return False
    if "*" not in versions and rt.version not in versions:
        return False
    scope = rule.get("scope") or "*"
    if (scope == "Cluster" and rt.namespaced) or (scope == "Namespaced" and not rt.namespaced):
        return False
    sub = attrs.subresource or ""
    for entry in rule.get("resources") or []:
        res, _, res_sub = entry.partition("/")
        if res in ("*", rt.plural) and res_sub in ("*", sub):
            return True
    return False


def _labels(obj: Obj | None) -> dict[str, str]:
    return ((obj or {}).get("metadata") or {}).get("labels") or {}


def webhook_matches(hook: Obj, attrs: Attributes, store: Store) -> bool:
    """Rules, then namespaceSelector (namespaced objects and Namespaces), then objectSelector."""
    if not any(rule_matches(rule, attrs) for rule in hook.get("rules") or []):
        return False
    ns_selector = hook.get("namespaceSelector")
    if (attrs.rt.group, attrs.rt.plural) == NAMESPACES:
        ns_labels = _labels(attrs.obj if attrs.obj is not None else attrs.old)
        if not selector_matches(ns_selector, ns_labels):
            return False
    elif attrs.rt.namespaced and ns_selector:
        namespace = store.get(NAMESPACES, "", attrs.namespace)
        if not selector_matches(ns_selector, _labels(namespace)):
            return False
    obj_selector = hook.get("objectSelector")
    return selector_matches(obj_selector, _labels(attrs.obj)) or (
        attrs.old is not None and selector_matches(obj_selector, _labels(attrs.old))
    )


# ---- errors as the real server words them --------------------------------------------------------


def denied(hook_name: str, result: Obj | None) -> ApiError:
    """A refusal by a webhook, as the real server's ToStatusErr returns it.

    The webhook's own Status goes back to the client: its code (raised to 400
    when lower: a refusal is never a success), its reason and details if any,
    and the message prefixed with which webhook denied the request.
    """
    result = dict(result or {})
    code = int(result.get("code") or 0)
    code = max(code, 400)
    by = f'admission webhook "{hook_name}" denied the request'
    if result.get("message"):
        message = f"{by}: {result['message']}"
    elif result.get("reason"):
        message = f"{by}: {result['reason']}"
    else:
        message = f"{by} without explanation"
    return ApiError(code, str(result.get("reason") or ""), message, result.get("details"))


def call_failed(hook_name: str, cause: str) -> ApiError:
    """A failed call under failurePolicy Fail (ErrCallingWebhook wrapped in an InternalError)."""
    message = f'failed calling webhook "{hook_name}": {cause}'
    return ApiError(
        500, "InternalError", f"Internal error occurred: {message}", {"causes": [{"message": message}]}
    )


# ---- the call ------------------------------------------------------------------------------------


def review_request(attrs: Attributes) -> Obj:
    """The AdmissionReview sent to a webhook."""
    rt = attrs.rt
    kind = {"group": rt.group, "version": rt.version, "kind": rt.kind}
    resource = {"group": rt.group, "version": rt.version, "resource": rt.plural}
    options: Obj = {
        "kind": _OPTIONS_KIND.get(attrs.operation, "CreateOptions"),
        "apiVersion": "meta.k8s.io/v1",
    }
    if attrs.dry_run:
        options["dryRun"] = ["All"]
    if attrs.field_manager and attrs.operation != "DELETE":
        options["fieldManager"] = attrs.field_manager
    request: Obj = {
        "uid": str(uuid.uuid4()),
        "kind": kind,
        "resource": resource,
        "requestKind": kind,
        "requestResource": resource,
        "name": attrs.name,
        "operation": attrs.operation,
        "userInfo": copy.deepcopy(USER_INFO),
        "object": attrs.obj,
        "oldObject": attrs.old,
        "dryRun": attrs.dry_run,
        "options": options,
    }
    if attrs.subresource:
        request["subResource"] = request["requestSubResource"] = attrs.subresource
    if rt.namespaced:
        request["namespace"] = attrs.namespace
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def _ssl_context(client_config: Obj) -> ssl.SSLContext:
    bundle = client_config.get("caBundle")
    if not bundle:
        return ssl.create_default_context()
    try:
        pem = base64.b64decode(bundle, validate=True).decode("ascii")
        return ssl.create_default_context(cadata=pem)
    except (binascii.Error, UnicodeDecodeError, ssl.SSLError, ValueError) as exc:
        raise CallError(f"failed to call webhook: invalid caBundle: {exc}") from exc


def _describe(exc: aiohttp.ClientError) -> str:
    """A client error in the words of Go's net/http where they map (TLS, refused connection)."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert_error = exc.certificate_error
        detail = getattr(cert_error, "verify_message", None) or str(cert_error)
        return f"tls: failed to verify certificate: {detail}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        err = exc.os_error
        reason = (os.strerror(err.errno) if err.errno else str(err)).lower()
        return f"dial tcp {exc.host}:{exc.port}: connect: {reason}"
    return str(exc) or type(exc).__name__


async def call_webhook(hook: Obj, review: Obj) -> Obj:
    """POST the review, return the response stanza (uid checked); any failure is a CallError."""
    config = hook.get("clientConfig") or {}
    if config.get("service") and not config.get("url"):
        svc = config["service"]
        raise CallError(
            f'failed to call webhook: service "{svc.get("namespace")}/{svc.get("name")}" cannot be '
            "resolved by the kvsriov sandbox API server (it has no cluster network); use clientConfig.url"
        )
    url = config.get("url")
    if not url:
        raise CallError("failed to call webhook: clientConfig has neither url nor service")
    if "v1" not in (hook.get("admissionReviewVersions") or ["v1"]):
        raise CallError("failed to call webhook: webhook does not accept known AdmissionReview versions")
    seconds = int(hook.get("timeoutSeconds") or 10)
    target = f"{url}?timeout={seconds}s"
    context = _ssl_context(config)
    try:
        timeout = aiohttp.ClientTimeout(total=seconds)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(target, json=review, ssl=context) as response,
        ):
            raw = await response.read()
            status = response.status
    except TimeoutError as exc:
        raise CallError(f'failed to call webhook: Post "{target}": context deadline exceeded') from exc
    except aiohttp.ClientError as exc:
        raise CallError(f'failed to call webhook: Post "{target}": {_describe(exc)}') from exc
    if status != 200:
        text = raw.decode("utf-8", "replace")[:200]
        raise CallError(
            f'failed to call webhook: an error on the server ("{text}") has prevented the request '
            f"from succeeding (code {status})"
        )
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise CallError(f"received invalid webhook response: {exc}") from exc
    if not isinstance(body, dict) or (body.get("apiVersion"), body.get("kind")) != (
        "admission.k8s.io/v1",
        "AdmissionReview",
    ):
        got = body if isinstance(body, dict) else {}
        raise CallError(
            f"received invalid webhook response: expected webhook response of admission.k8s.io/v1, "
            f"Kind=AdmissionReview, got {got.get('apiVersion')}, Kind={got.get('kind')}"
        )
    answer = body.get("response")
    if not isinstance(answer, dict):
        raise CallError("received invalid webhook response: webhook response was absent")
    sent_uid = review["request"]["uid"]
    if answer.get("uid") != sent_uid:
        raise CallError(
            "received invalid webhook response: "
            f'expected response.uid="{sent_uid}", got "{answer.get("uid")}"'
        )
    return answer


# ---- the admission chain -------------------------------------------------------------------------


def _hooks(store: Store, key: tuple[str, str]) -> list[Obj]:
    """Webhooks of every configuration of one kind, in configuration-name order."""
    hooks: list[Obj] = []
    for config in sorted(store.list(key), key=lambda c: c["metadata"]["name"]):
        hooks.extend(h for h in config.get("webhooks") or [] if isinstance(h, dict))
    return hooks


def _with_warnings(err: ApiError, attrs: Attributes) -> ApiError:
    """Warnings gathered so far still reach the client with a refusal (the HTTP layer reads them)."""
    err.warnings = list(attrs.warnings)
    return err


class Admission:
    """The mutating and validating admission webhook plugins."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _matching(self, key: tuple[str, str], attrs: Attributes) -> list[Obj]:
        if attrs.rt.group == ADMISSION_GROUP:
            return []
        hooks = [h for h in _hooks(self.store, key) if webhook_matches(h, attrs, self.store)]
        if attrs.dry_run:
            for hook in hooks:
                if hook.get("sideEffects") not in ("None", "NoneOnDryRun"):
                    raise bad_request(f'admission webhook "{hook.get("name")}" does not support dry run')
        return hooks

    def any_matching(self, attrs: Attributes) -> bool:
        """Whether a write will call out (and so yield the event loop)."""
        return bool(self._matching(MUTATING, attrs) or self._matching(VALIDATING, attrs))

    async def _call(self, hook: Obj, attrs: Attributes) -> Obj | None:
        """The response, or None when a failure is ignored; refusals raise ApiError."""
        name = hook.get("name", "")
        try:
            answer = await call_webhook(hook, review_request(attrs))
        except CallError as exc:
            if hook.get("failurePolicy", "Fail") == "Ignore":
                return None
            raise _with_warnings(call_failed(name, str(exc)), attrs) from exc
        attrs.warnings.extend(str(w) for w in answer.get("warnings") or [])
        if not answer.get("allowed"):
            raise _with_warnings(denied(name, answer.get("status")), attrs)
        return answer

    async def mutate(self, attrs: Attributes) -> Obj | None:
        """Run the mutating webhooks; the patched object, or None when nothing changed it."""
        changed = False
        for hook in self._matching(MUTATING, attrs):
            answer = await self._call(hook, attrs)
            if answer is None or not answer.get("patch") or attrs.obj is None:
                continue
            try:
                if answer.get("patchType") != "JSONPatch":
                    raise CallError("webhook returned response.patch but not response.patchType JSONPatch")
                ops = json.loads(base64.b64decode(answer["patch"]))
                attrs.obj = jsonpatch.apply_patch(attrs.obj, ops)
            except (CallError, ValueError, binascii.Error, jsonpatch.JsonPatchException) as exc:
                if hook.get("failurePolicy", "Fail") == "Ignore":
                    continue
                raise call_failed(hook.get("name", ""), f"received invalid webhook response: {exc}") from exc
            changed = True
        return attrs.obj if changed else None

    async def validate(self, attrs: Attributes) -> None:
        """Run the validating webhooks concurrently; the first refusal (in order) wins."""
        hooks = self._matching(VALIDATING, attrs)
        if not hooks:
            return
        results = await asyncio.gather(*(self._call(h, attrs) for h in hooks), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
