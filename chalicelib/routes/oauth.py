"""OAuth 1.0a endpoints: request token, the approval page, access token (form-encoded replies)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.errors import ImgshelfError
from chalicelib.routes import web
from chalicelib.routes.v2 import query_pairs

if TYPE_CHECKING:
    from chalicelib.auth.oauth import Reply, SignedRequest

bp = Blueprint(__name__)

# Token requests arrive with a form body, a multipart body, JSON or nothing at all (no Content-Type
# is matched as application/json by Chalice).
FORM_TYPES = [*web.FORM_TYPES, "text/plain", "application/octet-stream"]
TOKEN_HEADERS: dict[str, str | list[str]] = {
    "Content-Type": "application/x-www-form-urlencoded",
    "Cache-Control": "no-store",
}
EXPIRED = "This authorization request has expired or was answered already."


def _signed(request: Request) -> SignedRequest:
    from chalicelib.auth.oauth import SignedRequest  # oauthlib loads only for OAuth requests

    raw = request.raw_body or b""
    body = raw.encode("utf-8") if isinstance(raw, str) else raw
    headers = {name.lower(): value for name, value in request.headers.items()}
    return SignedRequest(request.method, request.path, query_pairs(request), headers, body)


def _token_response(step: Callable[[SignedRequest], Reply]) -> Response:
    try:
        reply = step(_signed(bp.current_request))
    except ImgshelfError as error:  # e.g. DynamoDB throttling: 503 with Retry-After
        body = urlencode({"error": "temporarily_unavailable" if error.status == 503 else "server_error"})
        return Response(body=body, status_code=error.status, headers={**TOKEN_HEADERS, **error.headers})
    return Response(body=reply.body, status_code=reply.status, headers=TOKEN_HEADERS)


@bp.route("/oauth/request_token", methods=["GET", "POST"], content_types=FORM_TYPES)
def request_token() -> Response:
    from chalicelib.auth import oauth

    return _token_response(oauth.request_token)


@bp.route("/oauth/access_token", methods=["GET", "POST"], content_types=FORM_TYPES)
def access_token() -> Response:
    from chalicelib.auth import oauth

    return _token_response(oauth.access_token)


@bp.route("/oauth/authorize", methods=["GET", "POST"], content_types=FORM_TYPES)
def authorize() -> Response:
    """Sign in first; then name the application and ask. Allow gives a verifier, Deny none."""
    from chalicelib.auth import oauth

    page = web.page_request(bp.current_request)
    if page.account is None:
        return web.sign_in_first(page)
    token = page.field("oauth_token")
    try:
        if not page.posted:
            pending = oauth.pending(token)
            if pending is None:
                return web.html(page, "authorize.html", 404, outcome="", message=EXPIRED)
            return web.html(page, "authorize.html", outcome="ask", app_name=pending.app.name, token=token)
        page.check_form()
        pending = oauth.pending(token)
        if pending is None:
            return web.html(page, "authorize.html", 404, outcome="", message=EXPIRED)
        if page.field("decision") != "allow":
            oauth.deny(token)
            return web.html(page, "authorize.html", outcome="denied", app_name=pending.app.name)
        approval = oauth.approve(token, page.account.name)
    except ImgshelfError as error:
        return web.html(page, "authorize.html", error.status, outcome="", message=error.message)
    if approval.redirect is not None:
        return web.redirect(page, approval.redirect)
    return web.html(
        page, "authorize.html", outcome="allowed", app_name=pending.app.name, pin=approval.verifier
    )
