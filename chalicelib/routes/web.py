"""HTML pages for accounts: sign in, register, password reset, sign out, the account and its applications."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib import pages
from chalicelib.auth import tokens
from chalicelib.auth.identify import foreign_origin
from chalicelib.calls import Call
from chalicelib.errors import Forbidden, ImgshelfError
from chalicelib.records.accounts import Account
from chalicelib.routes.v2 import build_call
from chalicelib.services import accounts

bp = Blueprint(__name__)

FORM_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data", "application/json"]
CSRF_COOKIE = "IMGURCSRF"
CSRF_COOKIE_SECONDS = 7 * 86400
_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


@dataclass
class Page:
    """One HTML request: its parameters and cookies, the signed-in account, cookies to set."""

    call: Call
    account: Account | None
    csrf_cookie: str
    set_cookies: list[str] = field(default_factory=list)

    @property
    def posted(self) -> bool:
        return self.call.method == "POST"

    def binding(self) -> str:
        # A form token is good only with the cookies it was issued for (CSRF cookie and session).
        return tokens.binding(self.csrf_cookie, self.call.cookie(accounts.SESSION_COOKIE) or "")

    def check_form(self) -> None:
        if foreign_origin(self.call.headers) or not tokens.csrf_valid(
            self.call.params.get("csrf"), self.binding()
        ):
            raise Forbidden(
                "This form has expired or did not come from this site; reload the page and try again"
            )

    def field(self, name: str) -> str:
        return self.call.params.get(name) or ""


def page_request(request: Request) -> Page:
    call = build_call(request, "html", request.path)
    csrf_cookie = call.cookie(CSRF_COOKIE) or ""
    set_cookies = []
    if not _COOKIE_VALUE.match(csrf_cookie):
        csrf_cookie = secrets.token_urlsafe(32)
        set_cookies.append(accounts.cookie(CSRF_COOKIE, csrf_cookie, CSRF_COOKIE_SECONDS))
    account = accounts.session_account(call.cookie(accounts.SESSION_COOKIE))
    return Page(call, account, csrf_cookie, set_cookies)


def html(page: Page, template: str, status: int = 200, **context: Any) -> Response:
    context.setdefault("message", None)
    context.setdefault("form", page.call.params)
    body = pages.render_page(
        template, account=page.account, csrf=tokens.csrf_token(page.binding()), **context
    )
    headers: dict[str, str | list[str]] = dict(pages.SECURITY_HEADERS)
    if page.set_cookies:
        headers["Set-Cookie"] = page.set_cookies
    return Response(body=body, status_code=status, headers=headers)


def redirect(page: Page, location: str) -> Response:
    headers: dict[str, str | list[str]] = {"Location": pages.site_path(location), "Cache-Control": "no-store"}
    if page.set_cookies:
        headers["Set-Cookie"] = page.set_cookies
    return Response(body="", status_code=302, headers=headers)


def local_path(value: str | None, default: str = "/account") -> str:
    """Where to go after signing in: a path on this site only (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(ord(c) < 32 or ord(c) == 127 for c in value):  # no header splitting through Location
        return default
    return value


def sign_in_first(page: Page) -> Response:
    request_path = page.call.path
    query = page.call.params.get("oauth_token")
    target = f"{request_path}?oauth_token={quote(query, safe='')}" if query else request_path
    return redirect(page, "/signin?next=" + quote(target, safe=""))


def form_page(
    template: str, context: Callable[[Page], dict[str, Any]] | None = None
) -> Callable[[Callable[[Page], Response]], Callable[[], Response]]:
    """A page whose POSTs must carry a valid CSRF token; project errors re-render it with a message."""

    def wrap(handler: Callable[[Page], Response]) -> Callable[[], Response]:
        def view() -> Response:
            page = page_request(bp.current_request)
            try:
                if page.posted:
                    page.check_form()
                return handler(page)
            except ImgshelfError as error:
                extra = context(page) if context is not None and page.account is not None else {}
                return html(page, template, error.status, message=error.message, **extra)

        view.__name__ = handler.__name__
        return view

    return wrap


@bp.route("/signin", methods=["GET", "POST"], content_types=FORM_TYPES)
@form_page("signin.html")
def signin(page: Page) -> Response:
    target = local_path(page.call.params.get("next"))
    if page.posted:
        _, token = accounts.sign_in(page.field("username"), page.field("password"), page.call.source_ip)
        page.set_cookies.append(accounts.session_cookie(token))
        return redirect(page, target)
    if page.account is not None:
        return redirect(page, target)
    return html(page, "signin.html", next=target)


@bp.route("/register", methods=["GET", "POST"], content_types=FORM_TYPES)
@form_page("register.html")
def register(page: Page) -> Response:
    if page.posted:
        account = accounts.register(page.field("username"), page.field("email"), page.field("password"))
        page.set_cookies.append(accounts.session_cookie(accounts.new_session(account)))
        return redirect(page, "/account")
    return html(page, "register.html")


@bp.route("/forgot", methods=["GET", "POST"], content_types=FORM_TYPES)
@form_page("forgot.html")
def forgot(page: Page) -> Response:
    sent = False
    if page.posted:
        accounts.forgot_password(page.field("identifier"))
        sent = True  # the same answer whether or not the account exists
    return html(page, "forgot.html", sent=sent)


@bp.route("/reset", methods=["GET", "POST"], content_types=FORM_TYPES)
@form_page("reset.html")
def reset(page: Page) -> Response:
    done = False
    if page.posted:
        accounts.reset_password(page.field("token"), page.field("password"))
        done = True
    return html(page, "reset.html", done=done, token=page.field("token"))


@bp.route("/signout", methods=["POST"], content_types=FORM_TYPES)
@form_page("not_found.html")
def signout(page: Page) -> Response:
    if page.account is not None:
        accounts.sign_out(page.account)
    page.set_cookies.append(accounts.cookie(accounts.SESSION_COOKIE, "", 0))
    return redirect(page, "/")


def _account_context(page: Page) -> dict[str, Any]:
    return {"current": page.account, "privacy": accounts.PRIVACY, "saved": False}


def _apps_context(page: Page) -> dict[str, Any]:
    assert page.account is not None
    return {"apps": accounts.applications_of(page.account), "created": None}


@bp.route("/account", methods=["GET", "POST"], content_types=FORM_TYPES)
@form_page("account.html", _account_context)
def account_page(page: Page) -> Response:
    if page.account is None:
        return sign_in_first(page)
    account, saved = page.account, False
    if page.posted:
        public = "true" if page.field("public_images") else "false"  # an unticked box sends nothing
        account = accounts.update_settings(account, page.field("default_album_privacy") or None, public)
        saved = True
    return html(page, "account.html", current=account, privacy=accounts.PRIVACY, saved=saved)


@bp.route("/account/apps", methods=["GET", "POST"], content_types=FORM_TYPES)
@form_page("apps.html", _apps_context)
def apps_page(page: Page) -> Response:
    if page.account is None:
        return sign_in_first(page)
    created = None
    if page.posted and page.field("action") == "revoke":
        accounts.revoke_application(page.account, page.field("consumer_key"))
    elif page.posted:
        created = accounts.create_application(page.account, page.field("name"), page.field("callback"))
    apps = accounts.applications_of(page.account)
    return html(page, "apps.html", apps=apps, created=created)
