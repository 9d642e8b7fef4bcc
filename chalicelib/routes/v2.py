"""Declaring v2 resources: suffix formats, credits, and every error as a v2 envelope, in one place."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib import bootstrap, forms, render
from chalicelib.calls import Call, Caller
from chalicelib.config import Settings
from chalicelib.credits import THROTTLING_CODES, Quota
from chalicelib.errors import ImgshelfError, MethodNotAllowed, NotFound, ServiceUnavailable
from chalicelib.records import error_code
from chalicelib.services import access
from chalicelib.services.access import Auth

log = logging.getLogger("imgshelf")

METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]
# Payloads carry images as files, base64 text or URLs: accept every body and sort it out in forms.
ANY_BODY = ["*/*"]
THROTTLED = THROTTLING_CODES | {"SlowDown", "RequestLimitExceeded", "ServiceUnavailable"}

Cost = int | Callable[[Settings], int]


@dataclass(frozen=True)
class Redirect:
    location: str
    status: int = 302


@dataclass(frozen=True)
class Spec:
    handler: Callable[..., Any]
    root: str
    cost: Cost
    auth: Auth


@dataclass
class Resource:
    path: str
    specs: dict[str, Spec] = field(default_factory=dict)


def source_ip(request: Request) -> str:
    # API Gateway's view of the peer; X-Forwarded-For is client-controlled and never trusted.
    identity = (request.context or {}).get("identity") or {}
    return str(identity.get("sourceIp") or "unknown")


def query_pairs(request: Request) -> list[tuple[str, str]]:
    multi = request.query_params
    if not multi:
        return []
    return [(name, value) for name in multi for value in multi.getlist(name)]


def build_call(request: Request, fmt: str, path: str) -> Call:
    settings = bootstrap.settings()
    headers = {k.lower(): v for k, v in request.headers.items()}
    body = request.raw_body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    # Base64 text is 4/3 of the file and urlencoding adds a little more: allow for both here,
    # and check the decoded file against MAX_UPLOAD_BYTES where it is decoded.
    limit = settings.max_upload_bytes * 3 // 2 + 64 * 1024
    call = Call(
        method=request.method.upper(),
        path=path,
        fmt=fmt,
        params=forms.Params(),
        headers=headers,
        source_ip=source_ip(request),
        body=body,
    )
    call.query = query_pairs(request)
    call.params = forms.parse(call.query, headers.get("content-type", ""), body, limit)
    return call


class V2Api:
    """Collects v2 resources and mounts each at /2/x, /2/x.json, /2/x.xml on a blueprint.

    There is one instance, `api` below: resource modules declare on it, app.py mounts it once
    after importing them (the 404 fallbacks need to see every resource).
    """

    def __init__(self, blueprint: Blueprint) -> None:
        self.blueprint = blueprint
        self.resources: dict[str, Resource] = {}

    def resource(
        self,
        path: str,
        *,
        root: str,
        methods: tuple[str, ...] = ("GET",),
        cost: Cost = 1,
        auth: Auth = Auth.OPTIONAL,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(handler: Callable[..., Any]) -> Callable[..., Any]:
            resource = self.resources.setdefault(path, Resource(path))
            for method in methods:
                resource.specs[method] = Spec(handler, root, cost, auth)
            return handler

        return register

    def mount(self) -> None:
        """Register the routes, then a 404 envelope for every other path under /2/."""
        for resource in self.resources.values():
            if "{" in resource.path:
                self._route(f"/2/{resource.path}", resource)
            else:
                for suffix in ("", ".json", ".xml"):
                    self._route(f"/2/{resource.path}{suffix}", resource)
        for path in unknown_paths(f"/2/{p}" for p in self.resources):
            self._route(path, None)

    def _route(self, path: str, resource: Resource | None) -> None:
        def view(**params: str) -> Response:
            return dispatch(self.blueprint.current_request, path, resource, params)

        view.__name__ = "v2" + "".join(c if c.isalnum() else "_" for c in path)
        self.blueprint.route(path, methods=METHODS, content_types=ANY_BODY, cors=True)(view)


def unknown_paths(paths: Any) -> list[str]:
    """Catch-all routes: one variable child under /2 and under every literal prefix lacking one.

    API Gateway does not fall back from a literal path segment to a sibling variable, so each
    literal node needs its own variable child for unknown names to reach the 404 envelope.
    """
    nodes: set[tuple[str, ...]] = set()
    variable_children: set[tuple[str, ...]] = set()
    for path in paths:
        parts = tuple(path.strip("/").split("/"))
        for depth in range(1, len(parts) + 1):
            prefix = parts[:depth]
            if prefix[-1].startswith("{"):
                variable_children.add(prefix[:-1])
            else:
                nodes.add(prefix)
    found = []
    for node in sorted(nodes):
        if node not in variable_children and len(node) <= 3:
            found.append("/" + "/".join((*node, "{unknown}")))
    found += [
        "/2",
        "/2/{unknown}/{unknown2}",
        "/2/{unknown}/{unknown2}/{unknown3}",
        "/2/{unknown}/{unknown2}/{unknown3}/{unknown4}",
    ]
    return found


def dispatch(request: Request, route: str, resource: Resource | None, params: dict[str, str]) -> Response:
    path = route
    for name, value in params.items():
        path = path.replace("{" + name + "}", value)
    stem, fmt = render.split_format(path.rsplit("/", 1)[-1], _query_format(request))
    last = route.rsplit("/", 1)[-1]
    if last.startswith("{"):
        params[last[1:-1]] = stem  # a path parameter is a whole segment: 'abc.json' -> 'abc'
    call: Call | None = None
    quota: Quota | None = None
    try:
        call = build_call(request, fmt, path)
        if resource is None:
            raise NotFound("Invalid resource")
        spec = resource.specs.get(call.method)
        if spec is None:
            raise MethodNotAllowed(f"Method {call.method.lower()} is not allowed for this resource")
        call.caller = _identify(call, spec.auth)
        cost = spec.cost(bootstrap.settings()) if callable(spec.cost) else spec.cost
        quota = call.quota = access.charge(call.caller, cost)
        result = spec.handler(call, **params)
        return _success(call, spec, result, quota)
    except Exception as error:
        return _failure(request, call, path, fmt, quota, error=error)


def _identify(call: Call, auth: Auth) -> Caller:
    """The caller; a refused credential still costs the source IP one credit.

    Checking a key or a signature costs reads (and a nonce write): were refusals free, anyone
    could make unmetered DynamoDB calls by sending bad credentials.
    """
    try:
        return access.identify(call, auth)
    except ImgshelfError as refused:
        quota = access.charge(access.ip_caller(call.source_ip), 1)  # LimitExceeded once spent
        refused.headers.update(quota.headers())
        raise


def _query_format(request: Request) -> str | None:
    multi = request.query_params
    return multi.get("_format") if multi else None


def _success(call: Call, spec: Spec, result: Any, quota: Quota) -> Response:
    headers = {**quota.headers(), **call.extra_headers}
    if isinstance(result, Redirect):
        return Response(body="", status_code=result.status, headers={**headers, "Location": result.location})
    rendered = render.render(call.fmt, spec.root, result)
    return Response(
        body=rendered.body, status_code=200, headers={**headers, "Content-Type": rendered.content_type}
    )


def _failure(
    request: Request, call: Call | None, path: str, fmt: str, quota: Quota | None, *, error: Exception
) -> Response:
    if not isinstance(error, ImgshelfError):
        if error_code(error) in THROTTLED:
            error = ServiceUnavailable(headers={"Retry-After": "1"})
        else:
            request_id = _request_id(request)
            # The route pattern, not the path: paths can hold deletehashes.
            route = (request.context or {}).get("resourcePath", "?")
            log.exception("unexpected error in %s %s (request %s)", request.method, route, request_id)
            error = ImgshelfError(
                f"A fatal error occured. We have been notified of this error. (request {request_id})"
            )
    headers: dict[str, str | list[str]] = dict(error.headers)
    if "X-RateLimit-Limit" not in headers:
        headers.update(_quota_headers(request, call, quota))
    parameters = call.params.describe() if call is not None else ""
    rendered = render.error_envelope(fmt, error.message, path, request.method, parameters)
    headers["Content-Type"] = rendered.content_type
    return Response(body=rendered.body, status_code=error.status, headers=headers)


def _quota_headers(request: Request, call: Call | None, quota: Quota | None) -> dict[str, str]:
    """Rate-limit headers even on errors: v2 clients crash without them."""
    if quota is not None:
        return quota.headers()
    try:
        caller: Caller = (call and call.caller) or access.ip_caller(source_ip(request))
        return access.peek(caller).headers()
    except Exception:  # the envelope must go out even when the ledger cannot be read
        settings = bootstrap.settings()
        return Quota(settings.credits_anon_per_hour, 0, 0).headers()


def _request_id(request: Request) -> str:
    context = getattr(request, "lambda_context", None)
    return str(getattr(context, "aws_request_id", None) or uuid.uuid4())


bp = Blueprint(__name__)
api = V2Api(bp)
