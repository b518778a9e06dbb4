"""Registry of the resource types the emulated server serves.

One ``ResourceType`` per (group, version, plural). Built-in kinds come from a
fixed table (served without a schema, so any field is accepted); custom kinds
come from CustomResourceDefinition objects, one entry per served version.
Discovery, OpenAPI, routing, validation and Table output all read from here,
so installing or removing a CRD changes every one of them at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass
class ResourceType:
    """What the server knows about one served resource in one version."""

    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    schema: dict[str, Any] | None = None
    status_subresource: bool = False
    printer_columns: list[dict[str, Any]] = field(default_factory=list)
    custom: bool = False
    storage: bool = True

    @property
    def group_version(self) -> str:
        """``apiVersion`` of objects served in this version (``v1`` for core)."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        """Storage key: objects are shared by all versions of a resource."""
        return (self.group, self.plural)

    @property
    def list_kind(self) -> str:
        """Kind of the list object, e.g. ``WidgetList``."""
        return f"{self.kind}List"


def _builtin(
    group: str,
    version: str,
    plural: str,
    kind: str,
    namespaced: bool,
    short: list[str] | None = None,
    status: bool = False,
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        singular=kind.lower(),
        kind=kind,
        namespaced=namespaced,
        short_names=short or [],
        status_subresource=status,
        categories=["all"] if kind in ("Pod", "Service") else [],
    )


BUILTINS: list[ResourceType] = [
    _builtin("", "v1", "namespaces", "Namespace", False, ["ns"], status=True),
    _builtin("", "v1", "nodes", "Node", False, ["no"], status=True),
    _builtin("", "v1", "pods", "Pod", True, ["po"], status=True),
    _builtin("", "v1", "events", "Event", True, ["ev"]),
    _builtin("", "v1", "configmaps", "ConfigMap", True, ["cm"]),
    _builtin("", "v1", "secrets", "Secret", True),
    _builtin("", "v1", "serviceaccounts", "ServiceAccount", True, ["sa"]),
    _builtin("", "v1", "services", "Service", True, ["svc"], status=True),
    _builtin("events.k8s.io", "v1", "events", "Event", True, ["ev"]),
    _builtin("coordination.k8s.io", "v1", "leases", "Lease", True),
    _builtin(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        False,
    ),
    _builtin(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        False,
    ),
    _builtin(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        ["crd", "crds"],
        status=True,
    ),
]


def types_from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """One ``ResourceType`` per served version of a CRD object."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    result = []
    for ver in spec.get("versions", []):
        if not ver.get("served", True):
            continue
        schema = (ver.get("schema") or {}).get("openAPIV3Schema")
        result.append(
            ResourceType(
                group=spec["group"],
                version=ver["name"],
                plural=names["plural"],
                singular=names.get("singular") or names["kind"].lower(),
                kind=names["kind"],
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=list(names.get("shortNames") or []),
                categories=list(names.get("categories") or []),
                schema=schema,
                status_subresource="status" in (ver.get("subresources") or {}),
                printer_columns=list(ver.get("additionalPrinterColumns") or []),
                custom=True,
                storage=bool(ver.get("storage", False)),
            )
        )
    return result


class Registry:
    """Served resource types, indexed for routing and for discovery."""

    def __init__(self) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        for rt in BUILTINS:
            self.add(rt)

    def add(self, rt: ResourceType) -> None:
        """Serve ``rt`` (replacing an earlier entry with the same group/version/plural)."""
        self._types[(rt.group, rt.version, rt.plural)] = rt

    def install_crd(self, crd: dict[str, Any]) -> None:
        """Serve the versions of a CRD, dropping versions it no longer serves."""
        spec = crd.get("spec", {})
        self.remove_resource(spec.get("group", ""), spec.get("names", {}).get("plural", ""))
        for rt in types_from_crd(crd):
            self.add(rt)

    def remove_resource(self, group: str, plural: str) -> None:
        """Stop serving every version of a resource."""
        for key in [k for k in self._types if k[0] == group and k[2] == plural]:
            del self._types[key]

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The type served at ``/apis/<group>/<version>/<plural>``, if any."""
        return self._types.get((group, version, plural))

    def all(self) -> list[ResourceType]:
        """All served types, in a stable order."""
        return sorted(self._types.values(), key=lambda r: (r.group, r.version, r.plural))

    def group_versions(self) -> dict[str, list[str]]:
        """group -> served versions, the storage (preferred) version first."""
        groups: dict[str, list[ResourceType]] = {}
        for rt in self.all():
            groups.setdefault(rt.group, []).append(rt)
        result: dict[str, list[str]] = {}
        for group, rts in groups.items():
            versions: list[str] = []
            for rt in sorted(rts, key=lambda r: (not r.storage, r.version)):
                if rt.version not in versions:
                    versions.append(rt.version)
            result[group] = versions
        return result

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        """Types served in one group-version."""
        return [rt for rt in self.all() if rt.group == group and rt.version == version]
