"""The parts of Kubernetes object metadata our models read and write.

Models use camelCase on the wire (as every Kubernetes API does) and snake_case
in Python; `ApiModel` carries that mapping once for all of them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    """Base of every spec/status model: camelCase aliases, unknown fields refused.

    Refusing unknown fields mirrors `kubectl apply`'s default (fieldValidation=Strict):
    a misspelt field is an error, not a silent no-op.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        validate_default=False,
    )

    def to_api(self) -> dict[str, Any]:
        """The wire form: camelCase keys, unset optional fields omitted."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class ObjectMeta(BaseModel):
    """Metadata as the API server returns it; fields we do not model are kept."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    name: str = ""
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    finalizers: list[str] = Field(default_factory=list)
    generation: int | None = None
    resource_version: str | None = None
    uid: str | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None


class CrdInfo(BaseModel):
    """How a kind is served: names and the `kubectl get` columns.

    Kept next to each kind's model so that the CRD generator has one place to read.
    """

    model_config = ConfigDict(frozen=True)

    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ("kvsriov",)
    printer_columns: tuple[dict[str, Any], ...] = ()


def column(
    name: str, json_path: str, type_: str = "string", description: str = "", priority: int = 0
) -> dict[str, Any]:
    """One additionalPrinterColumns entry, as apiextensions.k8s.io/v1 spells it."""
    entry: dict[str, Any] = {"name": name, "type": type_, "jsonPath": json_path}
    if description:
        entry["description"] = description
    if priority:
        entry["priority"] = priority
    return entry


AGE_COLUMN = column("Age", ".metadata.creationTimestamp", "date")


class KubeObject(ApiModel):
    """A whole object of one of our kinds (apiVersion, kind, metadata, spec, status)."""

    model_config = ConfigDict(extra="ignore")
    crd: ClassVar[CrdInfo]

    api_version: str = ""
    kind: str = ""
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
