"""HTTP routes of the emulated API server (aiohttp).

Only HTTP concerns live here: URL parsing into (resource type, namespace,
name, subresource), query parameters, content types, JSON/YAML bodies,
Table negotiation, ``Warning`` headers and turning ``ApiError`` into Status
responses. The semantics are in ``operations`` and ``watch``.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

import yaml
from aiohttp import web

from . import discovery, openapi, protobuf
from .errors import ApiError, bad_request, method_not_allowed, unsupported_media_type
from .metadata import check_path_segment
from .operations import Operations
from .patch import APPLY, APPLY_CBOR, JSON_PATCH, MERGE, STRATEGIC
from .resources import ResourceType
from .selectors import Predicate, combine, parse_field_selector, parse_label_selector
from .table import to_table, wants_table
from .watch import WatchStream

Obj = dict[str, Any]
log = logging.getLogger(__name__)
OPS_KEY = web.AppKey("ops", Operations)


@dataclass
class Target:
    """What a resource URL names."""

    rt: ResourceType
    namespace: str | None  # None: all namespaces (or cluster-scoped)
    name: str | None
    subresource: str | None


def _json(body: Any, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    response = web.Response(
        status=status, text=json.dumps(body, separators=(",", ":")), content_type="application/json"
    )
    for warning in warnings or []:
        response.headers.add("Warning", f'299 - "{warning.replace(chr(34), chr(92) + chr(34))}"')
    return response


def _error(exc: ApiError) -> web.Response:
    return _json(exc.status(), exc.code, getattr(exc, "warnings", None))


def _params(request: web.Request) -> dict[str, str]:
    return {k: v for k, v in request.query.items()}


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        raise bad_request("the request body is empty")
    ctype = request.content_type
    if ctype == protobuf.PROTOBUF:  # kubectl's typed clients (create namespace, configmap...)
        return protobuf.decode(raw)
    try:
        if ctype == APPLY or ctype.endswith("yaml"):
            return yaml.safe_load(raw)
        return json.loads(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise bad_request(f"the request body could not be decoded: {exc}") from exc


def resolve(ops: Operations, path: str) -> Target | None:
    """Map ``/api/v1/...`` or ``/apis/<g>/<v>/...`` onto a served resource."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    registry = ops.registry
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        candidate = registry.get(group, version, rest[2])
        if candidate is not None and candidate.namespaced:
            namespace, rest = rest[1], rest[2:]
    rt = registry.get(group, version, rest[0])
    if rt is None or len(rest) > 3:
        return None
    name = rest[1] if len(rest) >= 2 else None
    sub = rest[2] if len(rest) == 3 else None
    if sub is not None and not (sub == "status" and rt.status_subresource):
        return None
    if rt.namespaced and name is not None and namespace is None:
        return None
    return Target(rt, namespace, name, sub)


async def handle_resource(request: web.Request) -> web.StreamResponse:
    """Every verb on every resource URL."""
    ops = request.app[OPS_KEY]
    try:
        target = resolve(ops, request.path)
        if target is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return await _dispatch(request, ops, target)
    except ApiError as exc:
        return _error(exc)
    except Exception as exc:  # a bug here must still answer with a Status clients understand
        log.exception("internal error serving %s %s", request.method, request.path_qs)
        return _error(ApiError(500, "InternalError", f"Internal error occurred: {exc}"))


def _field_selector(rt: ResourceType, selector: str | None) -> Predicate:
    """Custom resources select on metadata.name and metadata.namespace only (400 otherwise)."""
    predicate = parse_field_selector(selector)
    if rt.custom:
        for term in (selector or "").split(","):
            label = re.split(r"!=|==|=", term, maxsplit=1)[0].strip()
            if label and label not in ("metadata.name", "metadata.namespace"):
                raise bad_request(f"field label not supported: {label}")
    return predicate


async def _dispatch(request: web.Request, ops: Operations, t: Target) -> web.StreamResponse:
    params = _params(request)
    rt, method = t.rt, request.method
    if t.name is not None:
        check_path_segment(t.name)
    ns = t.namespace or ""
    as_table = wants_table(request.headers.get("Accept", ""))
    if t.name is None:
        if method == "GET":
            matches = combine(
                parse_label_selector(params.get("labelSelector")),
                _field_selector(rt, params.get("fieldSelector")),
            )
            if params.get("watch") in ("true", "1"):
                return await WatchStream(ops, rt, t.namespace, matches, as_table).run(request, params)
            return _json(_list(ops, t, params, matches, as_table, params.get("includeObject", "Metadata")))
        if method == "POST":
            obj, warnings = await ops.create(rt, ns, await _body(request), params)
            return _json(obj, 201, warnings)
        if method == "DELETE":
            matches = combine(
                parse_label_selector(params.get("labelSelector")),
                _field_selector(rt, params.get("fieldSelector")),
            )
            deleted = [
                await ops.delete(rt, o["metadata"].get("namespace", ""), o["metadata"]["name"], params)
                for o in ops.list(rt, t.namespace, matches)
            ]
            return _json(
                {
                    "kind": rt.list_kind,
                    "apiVersion": rt.group_version,
                    "metadata": {"resourceVersion": str(ops.store.resource_version)},
                    "items": deleted,
                }
            )
        raise method_not_allowed()
    if method == "GET":
        obj = ops.get(rt, ns, t.name)
        if as_table:
            return _json(
                to_table(
                    rt,
                    [obj],
                    {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                    params.get("includeObject", "Metadata"),
                )
            )
        return _json(obj)
    if method == "PUT":
        obj, warnings = await ops.replace(rt, ns, t.name, await _body(request), params, t.subresource)
        return _json(obj, 200, warnings)
    if method == "PATCH":
        ctype = request.content_type
        if ctype not in (MERGE, JSON_PATCH, STRATEGIC, APPLY):
            raise unsupported_media_type(APPLY_CBOR if ctype == APPLY_CBOR else ctype)
        if ctype == STRATEGIC and rt.custom:  # custom resources have no strategic merge patch
            raise unsupported_media_type("")
        if t.subresource is None and ctype != APPLY:
            ops.require_namespace(rt, ns)
        existed = ops.store.get(rt.key, ns, t.name) is not None
        obj, warnings = await ops.patch(rt, ns, t.name, ctype, await _body(request), params, t.subresource)
        return _json(obj, 200 if existed or ctype != APPLY else 201, warnings)
    if method == "DELETE" and t.subresource is None:
        return _json(await ops.delete(rt, ns, t.name, params))
    raise method_not_allowed()


def _list(
    ops: Operations, t: Target, params: dict[str, str], matches: Any, as_table: bool, include: str
) -> Obj:
    items = ops.list(t.rt, t.namespace, matches)
    meta: Obj = {"resourceVersion": str(ops.store.resource_version)}
    start = 0
    if params.get("continue"):
        try:
            start = int(params["continue"])
        except ValueError as exc:
            raise ApiError(410, "Expired", "the provided continue parameter is too old") from exc
    limit_param = params.get("limit", "0")
    limit = int(limit_param) if limit_param.isdigit() else 0
    if limit:
        page = items[start : start + limit]
        if start + limit < len(items):
            meta["continue"] = str(start + limit)
            meta["remainingItemCount"] = len(items) - start - limit
        items = page
    elif start:
        items = items[start:]
    if as_table:
        return to_table(t.rt, items, meta, include)
    return {"kind": t.rt.list_kind, "apiVersion": t.rt.group_version, "metadata": meta, "items": items}


# ---- discovery, OpenAPI, health -----------------------------------------------------------------


async def handle_discovery(request: web.Request) -> web.Response:
    """/api, /apis, /api/v1, /apis/<g>, /apis/<g>/<v>."""
    ops = request.app[OPS_KEY]
    parts = [p for p in request.path.split("/") if p]
    doc: Obj | None = None
    if parts == ["api"]:
        doc = discovery.api_versions(request.host)
    elif parts == ["apis"]:
        doc = discovery.api_group_list(ops.registry)
    elif len(parts) == 2 and parts[0] == "api":
        doc = discovery.api_resource_list(ops.registry, "", parts[1])
    elif len(parts) == 2:
        doc = discovery.api_group(ops.registry, parts[1])
    elif len(parts) == 3:
        doc = discovery.api_resource_list(ops.registry, parts[1], parts[2])
    if doc is None:
        return _error(not_found_path())
    return _json(doc)


def not_found_path() -> ApiError:
    """404 for a URL that names nothing."""
    return ApiError(404, "NotFound", "the server could not find the requested resource")


async def handle_openapi(request: web.Request) -> web.Response:
    """/openapi/v2, /openapi/v3 and /openapi/v3/<api|apis/g>/<v>."""
    registry = request.app[OPS_KEY].registry
    parts = [p for p in request.path.split("/") if p][1:]
    doc: Obj | None = None
    if parts == ["v2"]:
        doc = openapi.v2_doc(registry)
    elif parts == ["v3"]:
        doc = openapi.v3_root(registry)
    elif parts[:2] == ["v3", "api"] and len(parts) == 3:
        doc = openapi.group_version_doc(registry, "", parts[2])
    elif parts[:2] == ["v3", "apis"] and len(parts) == 4:
        doc = openapi.group_version_doc(registry, parts[2], parts[3])
    if doc is None:
        return _error(not_found_path())
    return _json(doc)


async def handle_version(request: web.Request) -> web.Response:
    """/version."""
    return _json(discovery.VERSION_INFO)


async def handle_health(request: web.Request) -> web.Response:
    """/healthz, /readyz, /livez (and their sub-checks)."""
    return web.Response(text="ok")


async def _close_watches(app: web.Application) -> None:
    app[OPS_KEY].store.close()


def make_app(ops: Operations) -> web.Application:
    """The aiohttp application serving ``ops``."""
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[OPS_KEY] = ops
    app.on_shutdown.append(_close_watches)
    app.router.add_get("/version", handle_version)
    app.router.add_get("/version/", handle_version)
    for check in ("healthz", "readyz", "livez"):
        app.router.add_get(f"/{check}", handle_health)
        app.router.add_get(f"/{check}/{{rest:.*}}", handle_health)
    app.router.add_get("/api", handle_discovery)
    app.router.add_get("/apis", handle_discovery)
    app.router.add_get("/api/{version}", handle_discovery)
    app.router.add_get("/apis/{group}", handle_discovery)
    app.router.add_get("/apis/{group}/{version}", handle_discovery)
    app.router.add_get("/openapi/{rest:.*}", handle_openapi)
    app.router.add_route("*", "/api/{version}/{rest:.+}", handle_resource)
    app.router.add_route("*", "/apis/{group}/{version}/{rest:.+}", handle_resource)
    return app
