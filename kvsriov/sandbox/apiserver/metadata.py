"""ObjectMeta validation: names, label keys and values, and names as URL path segments.

The checks and their wording follow k8s.io/apimachinery pkg/util/validation/validation.go
(IsDNS1123Subdomain, IsDNS1123Label, IsDNS1035Label, IsQualifiedName, IsValidLabelValue),
pkg/api/validation/objectmeta.go (ValidateObjectMetaAccessor) and
pkg/api/validation/path/name.go (IsValidPathSegmentName), as kube-apiserver v1.34.4 answers
(tests/sandbox/conformance decides): every object's name must be a DNS-1123 subdomain (a
Namespace's a DNS-1123 label, a Service's a DNS-1035 label), every label key a qualified name
and every value a label value; a name in a URL may not be `.` or `..`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import ApiError, bad_request
from .resources import ResourceType
from .schema.paths import Cause

_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + "(\\." + _DNS1123_LABEL + ")*"
_DNS1035_LABEL = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = "(" + _QUALIFIED_NAME + ")?"
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
    "start with an alphabetic character, and end with an alphanumeric character"
)
_QUALIFIED_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
NAMESPACES = ("", "namespaces")
SERVICES = ("", "services")


def _matches(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


def _regex_error(message: str, fmt: str, *examples: str) -> str:
    """validation.RegexError, with its doubled spaces between examples."""
    shown = "".join(f"{' or ' if i else ''}'{e}', " for i, e in enumerate(examples))
    return f"{message} (e.g. {shown}regex used for validation is '{fmt}')"


def _max_len(n: int) -> str:
    return f"must be no more than {n} characters"


def dns1123_subdomain(value: str) -> list[str]:
    errs = [_max_len(253)] if len(value) > 253 else []
    if not _matches(_DNS1123_SUBDOMAIN, value):
        errs.append(_regex_error(_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN, "example.com"))
    return errs


def dns1123_label(value: str) -> list[str]:
    errs = [_max_len(63)] if len(value) > 63 else []
    if not _matches(_DNS1123_LABEL, value):
        if _matches(_DNS1123_SUBDOMAIN, value):  # a valid subdomain of the right length: the dots
            errs.append("must not contain dots")
        else:
            errs.append(_regex_error(_LABEL_MSG, _DNS1123_LABEL, "my-name", "123-abc"))
    return errs


def dns1035_label(value: str) -> list[str]:
    errs = [_max_len(63)] if len(value) > 63 else []
    if not _matches(_DNS1035_LABEL, value):
        errs.append(_regex_error(_DNS1035_MSG, _DNS1035_LABEL, "my-name", "abc-123"))
    return errs


def qualified_name(value: str) -> list[str]:
    """IsQualifiedName: an optional DNS subdomain prefix and `/`, then a name part."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) > 2:
        return [
            "a qualified name "
            + _regex_error(_QUALIFIED_MSG, _QUALIFIED_NAME, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend(f"prefix part {m}" for m in dns1123_subdomain(prefix))
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append(f"name part {_max_len(63)}")
    if not _matches(_QUALIFIED_NAME, name):
        errs.append(
            "name part " + _regex_error(_QUALIFIED_MSG, _QUALIFIED_NAME, "MyName", "my.name", "123-abc")
        )
    return errs


def label_value(value: str) -> list[str]:
    errs = [_max_len(63)] if len(value) > 63 else []
    if not _matches(_LABEL_VALUE, value):
        errs.append(_regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE, "MyValue", "my_value", "12345"))
    return errs


def quoted(value: str) -> str:
    """A Go %q of a plain string, as field.Invalid prints the value."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _invalid(field: str, value: str, message: str) -> Cause:
    return {
        "reason": "FieldValueInvalid",
        "message": f"Invalid value: {quoted(value)}: {message}",
        "field": field,
    }


def name_rule(rt: ResourceType) -> Callable[[str], list[str]]:
    """The rule a resource's names follow (ValidateNamespaceName, ValidateServiceName, else
    NameIsDNSSubdomain, which custom resources use too)."""
    if rt.key == NAMESPACES:
        return dns1123_label
    if rt.key == SERVICES:
        return dns1035_label
    return dns1123_subdomain


def _mask_trailing_dash(prefix: str) -> str:
    """A generateName may end in `-` (the random suffix follows): validated as if it did not."""
    return prefix[:-1] + "a" if len(prefix) > 1 and prefix.endswith("-") else prefix


#: How often the real server reports each label error on an update: its update path runs
#: ValidateObjectMeta more than once (observed on v1.34.4: 3 times for custom resources,
#: 4 times for built-in kinds such as ConfigMap and Namespace).
_UPDATE_REPEATS_CUSTOM = 3
_UPDATE_REPEATS_BUILTIN = 4


def validate_object_meta(rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    """The metadata causes of a create (`old` None) or update, in the real server's order."""
    meta = obj.get("metadata") or {}
    causes: list[Cause] = []
    if old is None:
        rule = name_rule(rt)
        generate = meta.get("generateName") or ""
        if generate:
            causes += [
                _invalid("metadata.generateName", generate, m) for m in rule(_mask_trailing_dash(generate))
            ]
        name = meta.get("name") or ""
        causes += [_invalid("metadata.name", name, m) for m in rule(name)]
    labels = meta.get("labels") or {}
    label_causes: list[Cause] = []
    if isinstance(labels, dict):
        for key, value in labels.items():
            label_causes += [_invalid("metadata.labels", str(key), m) for m in qualified_name(str(key))]
            if isinstance(value, str):
                label_causes += [_invalid("metadata.labels", value, m) for m in label_value(value)]
    if old is not None and label_causes:
        label_causes *= _UPDATE_REPEATS_CUSTOM if rt.custom else _UPDATE_REPEATS_BUILTIN
    return causes + label_causes


def check_path_segment(name: str) -> None:
    """A name in a URL (GET, PUT, PATCH, DELETE of one object) may not be `.` or `..`, nor hold
    `/` or `%` (NamespaceKeyFunc): 400 BadRequest before anything is looked up."""
    for bad in (".", ".."):
        if name == bad:
            raise _name_parameter_invalid(name, [f"may not be '{bad}'"])
    found = [f"may not contain '{c}'" for c in ("/", "%") if c in name]
    if found:
        raise _name_parameter_invalid(name, found)


def _name_parameter_invalid(name: str, messages: list[str]) -> ApiError:
    return bad_request(f"Name parameter invalid: {quoted(name)}: {';'.join(messages)}")
