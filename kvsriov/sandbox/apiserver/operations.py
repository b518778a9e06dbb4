"""The semantics of reads and writes, independent of HTTP.

Every write goes through :meth:`Operations._write`, which is where the rules
clients depend on live: optimistic concurrency on resourceVersion, immutable
server-owned metadata, the status subresource kept apart from the main
resource, schema pruning/defaulting/validation of custom objects, generation
bumps on spec changes only, and finalizers holding back deletion. Writes
are coroutines because admission webhooks (``admission``) are called between
validation and storage.
"""

from __future__ import annotations

import builtins
import copy
import datetime as dt
import logging
import secrets
import string
import uuid
from collections.abc import Callable
from typing import Any

from . import metadata, validation
from .admission import Admission, Attributes
from .crds import CRD_KEY, check_crd, established_status
from .errors import ApiError, already_exists, bad_request, conflict, invalid, not_found
from .patch import APPLY, server_side_apply
from .patch import apply_patch as run_patch
from .resources import Registry, ResourceType
from .store import Store

Obj = dict[str, Any]
log = logging.getLogger(__name__)
NAMESPACES = ("", "namespaces")
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_SERVER_META = ("uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds")


_RACE_RETRIES = 5


class _Raced(ApiError):
    """Another write landed while this one waited for a webhook (409; a patch retries)."""

    def __init__(self, plural: str, group: str, name: str) -> None:
        err = conflict(plural, group, name)
        super().__init__(err.code, err.reason, err.message, err.details)


def _default_webhooks(config: Obj) -> None:
    """The defaults the real server fills into each webhook of a webhook configuration."""
    for hook in config.get("webhooks") or []:
        hook.setdefault("matchPolicy", "Equivalent")
        hook.setdefault("namespaceSelector", {})
        hook.setdefault("objectSelector", {})
        hook.setdefault("timeoutSeconds", 10)
        hook.setdefault("failurePolicy", "Fail")
        if config.get("kind") == "MutatingWebhookConfiguration":
            hook.setdefault("reinvocationPolicy", "Never")
        for rule in hook.get("rules") or []:
            rule.setdefault("scope", "*")


def now() -> str:
    """RFC 3339 timestamp in UTC with a ``Z``, second precision, as metadata uses."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _body_of_interest(obj: Obj) -> Obj:
    """What a generation bump looks at: everything except metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


class Operations:
    """Reads and writes on the store, with the API server's rules."""

    def __init__(self, registry: Registry, store: Store) -> None:
        self.registry = registry
        self.store = store
        self.admission = Admission(store)

    # ---- reads -----------------------------------------------------------------------------

    def present(self, rt: ResourceType, obj: Obj) -> Obj:
        """The object as served in ``rt``'s version (storage is shared by all versions)."""
        obj["apiVersion"] = rt.group_version
        obj["kind"] = rt.kind
        return obj

    def get(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        """One object or 404."""
        obj = self.store.get(rt.key, namespace, name)
        if obj is None:
            raise not_found(rt.plural, rt.group, name)
        return self.present(rt, obj)

    def list(
        self, rt: ResourceType, namespace: str | None, where: Callable[[Obj], bool] | None = None
    ) -> list[Obj]:
        """The objects of a resource (in one namespace, or all when None) that `where` accepts."""
        return [self.present(rt, o) for o in self.store.list(rt.key, namespace, where)]

    def require_namespace(self, rt: ResourceType, namespace: str) -> None:
        """Namespaced writes need an existing namespace (404 like the real server)."""
        if rt.namespaced and self.store.get(NAMESPACES, "", namespace) is None:
            raise not_found("namespaces", "", namespace)

    # ---- writes ----------------------------------------------------------------------------

    async def create(
        self, rt: ResourceType, namespace: str, body: Any, params: dict[str, str]
    ) -> tuple[Obj, builtins.list[str]]:
        """POST: assign identity and server fields, validate, store."""
        if not isinstance(body, dict):
            raise bad_request("the request body must be a JSON object")
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
            self.require_namespace(rt, namespace)
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(
                secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5)
            )
        if not meta.get("name"):
            raise invalid(
                rt.kind,
                rt.group,
                "",
                [
                    {
                        "reason": "FieldValueRequired",
                        "field": "metadata.name",
                        "message": "Required value: name or generateName is required",
                    }
                ],
            )
        if self.store.get(rt.key, namespace if rt.namespaced else "", meta["name"]) is not None:
            raise already_exists(rt.plural, rt.group, meta["name"])
        for key in (*_SERVER_META, "resourceVersion"):
            meta.pop(key, None)
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=now(), generation=1)
        if rt.status_subresource and rt.custom:
            obj.pop("status", None)
        if rt.key == NAMESPACES:  # the namespace strategy's PrepareForCreate
            obj.setdefault("status", {})["phase"] = "Active"
        return await self._write(rt, obj, None, params, None)

    async def replace(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        params: dict[str, str],
        subresource: str | None,
    ) -> tuple[Obj, builtins.list[str]]:
        """PUT on the object or its status; a stale resourceVersion is a 409."""
        if not isinstance(body, dict):
            raise bad_request("the request body must be a JSON object")
        old = self._existing(rt, namespace, name)
        body_name = (body.get("metadata") or {}).get("name")
        if body_name and body_name != name:
            raise bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({name})"
            )
        if rt.custom and not (body.get("metadata") or {}).get("resourceVersion"):
            # custom resources refuse unconditional updates (AllowUnconditionalUpdate is false)
            cause = {
                "reason": "FieldValueInvalid",
                "message": "Invalid value: 0: must be specified for an update",
                "field": "metadata.resourceVersion",
            }
            raise invalid(rt.plural, rt.group, name, [cause])
        return await self._write(rt, copy.deepcopy(body), old, params, subresource)

    async def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        content_type: str,
        body: Any,
        params: dict[str, str],
        subresource: str | None,
    ) -> tuple[Obj, builtins.list[str]]:
        """PATCH of any supported type; server-side apply creates a missing object."""
        if content_type == APPLY:
            return await self._apply(rt, namespace, name, body, params, subresource)
        for _ in range(_RACE_RETRIES):  # like GuaranteedUpdate: re-apply on a newer object
            old = self._existing(rt, namespace, name)
            new = run_patch(content_type, old, body)
            if not isinstance(new, dict):
                raise bad_request("the patch did not produce an object")
            try:
                return await self._write(rt, new, old, params, subresource)
            except _Raced:
                continue
        raise conflict(rt.plural, rt.group, name)

    async def _apply(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        params: dict[str, str],
        subresource: str | None,
    ) -> tuple[Obj, builtins.list[str]]:
        manager = params.get("fieldManager")
        if not manager:
            cause = {
                "reason": "FieldValueRequired",
                "message": "Required value: is required for apply patch",
                "field": "fieldManager",
            }
            raise invalid("PatchOptions", "meta.k8s.io", "", [cause])
        if not isinstance(body, dict):
            raise bad_request("the apply configuration must be an object")
        body_name = (body.get("metadata") or {}).get("name")
        if body_name and body_name != name:
            raise bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({name})"
            )
        key_ns = namespace if rt.namespaced else ""
        old = self.store.get(rt.key, key_ns, name)
        if old is None:
            if subresource:
                raise not_found(rt.plural, rt.group, name)
            applied = server_side_apply(None, body, manager)
            applied.setdefault("metadata", {})["name"] = name
            return await self.create(rt, namespace, applied, params)
        return await self._write(
            rt, server_side_apply(old, body, manager, subresource), old, params, subresource
        )

    def _existing(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        old = self.store.get(rt.key, namespace if rt.namespaced else "", name)
        if old is None:
            raise not_found(rt.plural, rt.group, name)
        return old

    async def _write(
        self, rt: ResourceType, new: Obj, old: Obj | None, params: dict[str, str], subresource: str | None
    ) -> tuple[Obj, builtins.list[str]]:
        """Shared tail of create/replace/patch/apply."""
        meta = new.setdefault("metadata", {})
        if old is not None:
            old_meta = old["metadata"]
            sent_rv = meta.get("resourceVersion")
            if sent_rv and sent_rv != old_meta.get("resourceVersion"):
                raise conflict(rt.plural, rt.group, old_meta["name"])
            if subresource == "status":
                status = new.get("status")
                new = copy.deepcopy(old)
                if status is None:
                    new.pop("status", None)
                else:
                    new["status"] = status
                meta = new["metadata"]
            elif rt.status_subresource:
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
            for key in ("name", "namespace", *_SERVER_META):
                if key in old_meta:
                    meta[key] = old_meta[key]
                else:
                    meta.pop(key, None)
            if "managedFields" not in meta and "managedFields" in old_meta:
                meta["managedFields"] = old_meta["managedFields"]
            if old_meta.get("deletionTimestamp"):
                added = [
                    f for f in meta.get("finalizers") or [] if f not in (old_meta.get("finalizers") or [])
                ]
                if added:
                    listed = ", ".join(f'"{f}"' for f in added)
                    cause = {
                        "reason": "FieldValueForbidden",
                        "message": "Forbidden: no new finalizers can be added if the object is being "
                        f"deleted, found new finalizers []string{{{listed}}}",
                        "field": "metadata.finalizers",
                    }
                    # the real server reports it twice in causes (two validations), once in the message
                    error = invalid(rt.kind, rt.group, old_meta["name"], [cause])
                    assert error.details is not None  # invalid() always gives details
                    error.details["causes"] = [cause, dict(cause)]
                    raise error
        new["apiVersion"] = rt.group_version
        new["kind"] = rt.kind
        if rt.group == "admissionregistration.k8s.io":
            _default_webhooks(new)
        warnings = self._validate(rt, new, old, params)
        if rt.key == CRD_KEY:
            check_crd(new)
            new["status"] = established_status(new, old)
        new = await self._admit(rt, new, old, params, subresource, warnings)
        meta = new["metadata"]  # validation or admission may have replaced the dict
        if old is not None:
            if _body_of_interest(new) != _body_of_interest(old):
                meta["generation"] = int(old["metadata"].get("generation", 1)) + 1
            meta["resourceVersion"] = old["metadata"].get("resourceVersion")
            if new == old:  # a no-op write keeps the resourceVersion, as in the real server
                return self.present(rt, new), warnings
        if params.get("dryRun") == "All":
            return self.present(rt, new), warnings
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            return self.present(rt, self._remove(rt, new)), warnings
        stored = self.store.commit(rt.key, new, old)
        if rt.key == CRD_KEY:
            self.registry.install_crd(stored)
        return self.present(rt, stored), warnings

    async def _admit(
        self,
        rt: ResourceType,
        new: Obj,
        old: Obj | None,
        params: dict[str, str],
        subresource: str | None,
        warnings: builtins.list[str],
    ) -> Obj:
        """Mutating webhooks, schema validation again if they changed it, validating webhooks."""
        meta = new["metadata"]
        attrs = Attributes(
            rt,
            "CREATE" if old is None else "UPDATE",
            meta.get("name", ""),
            meta.get("namespace", ""),
            new,
            old,
            subresource,
            params.get("dryRun") == "All",
            params.get("fieldManager"),
            warnings,
        )
        if not self.admission.any_matching(attrs):
            return new
        mutated = await self.admission.mutate(attrs)
        if mutated is not None:
            for key in ("name", "namespace", *_SERVER_META):  # identity stays the server's
                if key in meta:
                    mutated.setdefault("metadata", {})[key] = meta[key]
            mutated["apiVersion"], mutated["kind"] = rt.group_version, rt.kind
            warnings.extend(self._validate(rt, mutated, old, params))
            attrs.obj = new = mutated
        await self.admission.validate(attrs)
        self._check_not_raced(rt, attrs.namespace, attrs.name, old)
        return new

    def _check_not_raced(self, rt: ResourceType, namespace: str, name: str, old: Obj | None) -> None:
        """A write that waited for webhooks must not overwrite one that landed meanwhile."""
        current = self.store.get(rt.key, namespace if rt.namespaced else "", name)
        if old is None and current is not None:
            raise already_exists(rt.plural, rt.group, name)
        if old is not None and (
            current is None
            or current["metadata"].get("resourceVersion") != old["metadata"].get("resourceVersion")
        ):
            raise _Raced(rt.plural, rt.group, name)

    def _validate(
        self, rt: ResourceType, obj: Obj, old: Obj | None, params: dict[str, str]
    ) -> builtins.list[str]:
        """Validate the metadata of every object (``metadata``); prune, default and validate a
        custom object through ``validation`` (see its contract), one 422 for all the causes."""
        meta_causes = metadata.validate_object_meta(rt, obj, old)
        if not rt.custom or not rt.schema:
            if meta_causes:
                raise invalid(rt.kind, rt.group, obj["metadata"].get("name", ""), meta_causes)
            return []
        mode = params.get("fieldValidation") or "Warn"
        if mode not in ("Strict", "Warn", "Ignore"):
            raise bad_request(f"fieldValidation must be one of Ignore, Warn, Strict (got {mode!r})")
        unknown = validation.prune(rt.schema, obj)
        if unknown and mode == "Strict":
            raise bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                "strict decoding error: " + ", ".join(f'unknown field "{u}"' for u in unknown)
            )
        validation.apply_defaults(rt.schema, obj)
        causes = meta_causes + validation.validate(rt.schema, obj, old)
        if causes:
            raise invalid(rt.kind, rt.group, obj["metadata"].get("name", ""), causes)
        return [f'unknown field "{u}"' for u in unknown] if mode == "Warn" else []

    # ---- deletion --------------------------------------------------------------------------

    async def delete(self, rt: ResourceType, namespace: str, name: str, params: dict[str, str]) -> Obj:
        """DELETE: with finalizers only mark it (deletionTimestamp); otherwise remove it."""
        old = self._existing(rt, namespace, name)
        dry_run = params.get("dryRun") == "All"
        attrs = Attributes(rt, "DELETE", name, namespace if rt.namespaced else "", None, old, None, dry_run)
        if self.admission.any_matching(attrs):
            await self.admission.validate(attrs)
            old = self._existing(rt, namespace, name)
        if dry_run:
            return self.present(rt, old)
        meta = old["metadata"]
        if meta.get("finalizers"):
            if meta.get("deletionTimestamp"):
                return self.present(rt, old)
            new = copy.deepcopy(old)
            new["metadata"].update(deletionTimestamp=now(), deletionGracePeriodSeconds=0)
            if rt.custom:  # marking a custom object for deletion bumps its generation
                new["metadata"]["generation"] = int(meta.get("generation", 1)) + 1
            return self.present(rt, self.store.commit(rt.key, new, old))
        removed = self._remove(rt, old)
        if rt.custom:  # the real server answers a completed custom-object delete with a Status
            details = {
                "name": name,
                "group": rt.group,
                "kind": rt.plural,
                "uid": removed["metadata"].get("uid"),
            }
            return {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": details,
            }
        return self.present(rt, removed)

    def _remove(self, rt: ResourceType, obj: Obj) -> Obj:
        final = self.store.remove(rt.key, obj)
        if rt.key == CRD_KEY:
            spec = final.get("spec", {})
            group, plural = spec.get("group", ""), spec.get("names", {}).get("plural", "")
            self.registry.remove_resource(group, plural)
            for item in self.store.list((group, plural)):
                self.store.remove((group, plural), item)
        elif rt.key == NAMESPACES:
            ns = final["metadata"]["name"]
            for other in self.registry.all():
                if other.namespaced:
                    for item in self.store.list(other.key, ns):
                        self.store.remove(other.key, item)
        return final

    async def ensure_namespaces(self) -> None:
        """Pre-create the namespaces every cluster has."""
        ns_type = self.registry.get("", "v1", "namespaces")
        assert ns_type is not None
        for name in DEFAULT_NAMESPACES:
            if self.store.get(NAMESPACES, "", name) is None:
                await self.create(
                    ns_type, "", {"metadata": {"name": name}, "status": {"phase": "Active"}}, {}
                )

    async def install_crd(self, crd: Obj) -> None:
        """Install (or update) a CRD at start-up, as if created through the API."""
        crd_type = self.registry.get(*CRD_KEY[:1], "v1", CRD_KEY[1])
        assert crd_type is not None
        name = crd.get("metadata", {}).get("name", "")
        try:
            await self.create(crd_type, "", crd, {})
        except ApiError as exc:
            if exc.code != 409:
                raise
            old = self.store.get(CRD_KEY, "", name)
            body = copy.deepcopy(crd)
            body["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"] if old else None
            await self.replace(crd_type, "", name, body, {}, None)
