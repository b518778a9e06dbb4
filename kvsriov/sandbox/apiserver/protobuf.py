"""Request bodies in Kubernetes protobuf (`application/vnd.kubernetes.protobuf`), decoded to JSON.

kubectl sends built-in objects it builds itself in protobuf: `kubectl create namespace`,
`create configmap`, `create secret`, `create serviceaccount` (its typed clients set
ContentType protobuf; it reads JSON answers too, so we answer in JSON). No library decodes
them without the generated Go types, so this is a protobuf wire-format reader with the field
numbers of the few kinds kubectl creates that way and the emulated server serves:
k8s.io/apimachinery pkg/runtime/types_proto.go (the `k8s\\0` envelope, runtime.Unknown),
pkg/apis/meta/v1/generated.proto (ObjectMeta, OwnerReference, Time) and
k8s.io/api core/v1/generated.proto (Namespace, ConfigMap, Secret, ServiceAccount) of v1.34.
Any other kind is refused with 415 naming the media types that work.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from typing import Any

from .errors import ApiError

PROTOBUF = "application/vnd.kubernetes.protobuf"
_MAGIC = b"k8s\x00"

# A message schema: field number -> (JSON name, how to read it). Kinds of reading:
# "str", "bytes" (base64 in JSON), "int", "bool", "time", "strs" (repeated string),
# "map" (map<string,string>), "bytesmap" (map<string,bytes>), a schema (message),
# ("list", schema) (repeated message).
Schema = dict[int, tuple[str, Any]]

_OWNER_REFERENCE: Schema = {
    1: ("kind", "str"),
    3: ("name", "str"),
    4: ("uid", "str"),
    5: ("apiVersion", "str"),
    6: ("controller", "bool"),
    7: ("blockOwnerDeletion", "bool"),
}
_OBJECT_META: Schema = {
    1: ("name", "str"),
    2: ("generateName", "str"),
    3: ("namespace", "str"),
    5: ("uid", "str"),
    6: ("resourceVersion", "str"),
    7: ("generation", "int"),
    8: ("creationTimestamp", "time"),
    11: ("labels", "map"),
    12: ("annotations", "map"),
    13: ("ownerReferences", ("list", _OWNER_REFERENCE)),
    14: ("finalizers", "strs"),
}
_OBJECT_REFERENCE: Schema = {
    1: ("kind", "str"),
    2: ("namespace", "str"),
    3: ("name", "str"),
    4: ("uid", "str"),
    5: ("apiVersion", "str"),
}
KINDS: dict[tuple[str, str], Schema] = {
    ("v1", "Namespace"): {
        1: ("metadata", _OBJECT_META),
        2: ("spec", {1: ("finalizers", "strs")}),
        3: ("status", {1: ("phase", "str")}),
    },
    ("v1", "ConfigMap"): {
        1: ("metadata", _OBJECT_META),
        2: ("data", "map"),
        3: ("binaryData", "bytesmap"),
        4: ("immutable", "bool"),
    },
    ("v1", "Secret"): {
        1: ("metadata", _OBJECT_META),
        2: ("data", "bytesmap"),
        3: ("type", "str"),
        4: ("stringData", "map"),
        5: ("immutable", "bool"),
    },
    ("v1", "ServiceAccount"): {
        1: ("metadata", _OBJECT_META),
        2: ("secrets", ("list", _OBJECT_REFERENCE)),
        3: ("imagePullSecrets", ("list", {1: ("name", "str")})),
        4: ("automountServiceAccountToken", "bool"),
    },
}
_UNKNOWN: Schema = {1: ("typeMeta", {1: ("apiVersion", "str"), 2: ("kind", "str")}), 2: ("raw", "raw")}


def _unsupported(why: str) -> ApiError:
    kinds = ", ".join(kind for _, kind in KINDS)
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"application/json, application/yaml ({PROTOBUF} only for {kinds}: {why})",
    )


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data):
            raise _unsupported("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of each field: an int for varints, bytes for length-delimited."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, value
        elif wire == 2:
            length, pos = _varint(data, pos)
            yield number, data[pos : pos + length]
            pos += length
        elif wire in (1, 5):  # fixed64/fixed32: no field we read has them; skip
            pos += 8 if wire == 1 else 4
        else:
            raise _unsupported(f"wire type {wire}")


def _message(data: bytes, schema: Schema) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for number, value in _fields(data):
        if number not in schema:
            continue  # a field we do not read (managedFields, status conditions...)
        name, kind = schema[number]
        if isinstance(value, int):
            out[name] = bool(value) if kind == "bool" else value
        elif kind == "str":
            out[name] = value.decode()
        elif kind in ("bytes", "raw"):
            out[name] = value if kind == "raw" else base64.b64encode(value).decode()
        elif kind == "strs":
            out.setdefault(name, []).append(value.decode())
        elif kind in ("map", "bytesmap"):
            entry = {n: v for n, v in _fields(value) if isinstance(v, bytes)}
            raw = entry.get(2, b"")
            text = base64.b64encode(raw).decode() if kind == "bytesmap" else raw.decode()
            out.setdefault(name, {})[entry.get(1, b"").decode()] = text
        elif kind == "time":
            seconds = dict(_fields(value)).get(1, 0)
            out[name] = dt.datetime.fromtimestamp(int(seconds), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        elif isinstance(kind, tuple):
            out.setdefault(name, []).append(_message(value, kind[1]))
        else:
            out[name] = _message(value, kind)
    return out


def decode(body: bytes) -> dict[str, Any]:
    """The JSON form of a protobuf-encoded built-in object (415 for a kind we cannot read)."""
    if not body.startswith(_MAGIC):
        raise _unsupported("no k8s protobuf envelope")
    unknown = _message(body[len(_MAGIC) :], _UNKNOWN)
    type_meta = unknown.get("typeMeta") or {}
    api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
    schema = KINDS.get((api_version, kind))
    if schema is None:
        raise _unsupported(f"got {api_version} {kind}")
    return {"apiVersion": api_version, "kind": kind, **_message(unknown.get("raw", b""), schema)}
