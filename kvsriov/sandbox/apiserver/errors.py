"""Kubernetes ``Status`` error bodies.

Clients branch on ``reason`` and ``code`` (kopf retries on 409, kubectl prints
``message`` verbatim, the Python client raises ``ApiException`` with the body),
so each error here mirrors the wording of the real kube-apiserver.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error that the HTTP layer turns into a ``Status`` response."""

    #: Set only on a refusal after webhook warnings (admission._with_warnings); read with getattr.
    warnings: list[str]

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        """The ``Status`` object as the real server sends it."""
        return status_body(self.code, self.reason, self.message, self.details)


def status_body(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Build a ``meta/v1 Status``; ``status`` is Failure for every code >= 300."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if code < 300 else "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if not reason:  # e.g. the 500 for a malformed resourceVersion carries none
        del body["reason"]
    if details is not None:
        body["details"] = details
    return body


def qualified(plural: str, group: str) -> str:
    """``widgets.example.io`` for a group, bare ``pods`` for the core group."""
    return f"{plural}.{group}" if group else plural


def _details(name: str, group: str, kind: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": kind} if name else {"kind": kind}
    if group:
        details["group"] = group
    return details


def not_found(plural: str, group: str, name: str) -> ApiError:
    """404 NotFound; ``details.kind`` is the resource (plural) as in the real server."""
    return ApiError(
        404, "NotFound", f'{qualified(plural, group)} "{name}" not found', _details(name, group, plural)
    )


def already_exists(plural: str, group: str, name: str) -> ApiError:
    """409 AlreadyExists for a create of an existing name."""
    return ApiError(
        409,
        "AlreadyExists",
        f'{qualified(plural, group)} "{name}" already exists',
        _details(name, group, plural),
    )


def conflict(plural: str, group: str, name: str) -> ApiError:
    """409 Conflict for a write carrying a stale resourceVersion."""
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified(plural, group)} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again",
        _details(name, group, plural),
    )


def invalid(kind: str, group: str, name: str, causes: list[dict[str, str]]) -> ApiError:
    """422 Invalid; the message lists each cause once as ``<field>: <message>`` (a cause repeated
    in ``details.causes`` is said once, as field.ErrorList.ToAggregate does)."""
    parts = list(
        dict.fromkeys(
            f"{c['field']}: {c['message']}" if c.get("field") else c.get("message", "") for c in causes
        )
    )
    summary = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    details = _details(name, group, kind)
    details["causes"] = causes
    return ApiError(422, "Invalid", f'{qualified(kind, group)} "{name}" is invalid: {summary}', details)


def bad_request(message: str) -> ApiError:
    """400 BadRequest."""
    return ApiError(400, "BadRequest", message)


def method_not_allowed(
    message: str = "the server does not allow this method on the requested resource",
) -> ApiError:
    """405 MethodNotAllowed."""
    return ApiError(405, "MethodNotAllowed", message)


def unsupported_media_type(content_type: str) -> ApiError:
    """415 UnsupportedMediaType for a PATCH with an unknown patch type."""
    return ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - "
        "accepted media types include: application/json-patch+json, application/merge-patch+json, "
        "application/apply-patch+yaml" + (f" (got {content_type!r})" if content_type else ""),
    )


def expired(message: str) -> ApiError:
    """410 Expired (``Gone``): a watch asked for history that was compacted away."""
    return ApiError(410, "Expired", message)
