"""The account pages through the Chalice test client: forms, CSRF, cookies, the OAuth approval page."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from chalicelib import bootstrap
from chalicelib.services import accounts
from tests.api.test_oauth import CALLBACK, Consumer, call, form, make_user

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class Form:
    action: str
    fields: dict[str, str]
    buttons: dict[str, str]


class PageParser(HTMLParser):
    """Forms (hidden and filled inputs, submit buttons) and the text of elements with an id."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.texts: dict[str, str] = {}
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(found.get("action", ""), {}, {}))
        elif tag in ("input", "select") and self.forms and "name" in found:
            if found.get("type") != "checkbox" or "checked" in found:
                self.forms[-1].fields[found["name"]] = found.get("value", "")
        elif tag == "button" and self.forms and "name" in found:
            self.forms[-1].buttons[found.get("value", "")] = found["name"]
        if "id" in found:
            self._open.append(found["id"])
            self.texts[found["id"]] = ""

    def handle_data(self, data: str) -> None:
        for element in self._open:
            self.texts[element] += data

    def handle_endtag(self, tag: str) -> None:
        if self._open and tag in ("code", "p", "h1", "strong", "table", "form"):
            self._open.pop()


def parse(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    return parser


@dataclass
class Browser:
    """A cookie jar in front of an HTTP client (the Chalice test client or requests)."""

    http: Any
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, data: dict[str, str] | None = None, **headers: str) -> Any:
        sent = dict(headers)
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = b""
        if data is not None:
            sent.update(FORM)
            body = urlencode(data).encode()
        response = self.http.request(method, path, headers=sent, body=body)
        value = response.headers.get("Set-Cookie") or []
        for cookie in [value] if isinstance(value, str) else value:
            name, _, rest = cookie.partition("=")
            token = rest.split(";")[0]
            if "Max-Age=0" in cookie:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = token
        return response

    def get(self, path: str, **headers: str) -> Any:
        return self.request("GET", path, **headers)

    def submit(
        self, path: str, form_action: str, values: dict[str, str] | None = None, **headers: str
    ) -> Any:
        """Fetch `path`, fill the form posting to `form_action`, and send it."""
        page = parse(self.get(path).body.decode())
        chosen = next(f for f in page.forms if f.action == form_action)
        return self.request("POST", form_action, {**chosen.fields, **(values or {})}, **headers)


@pytest.fixture
def browser(client) -> Browser:
    return Browser(client.http)


@pytest.fixture
def signed_in(browser) -> Browser:
    accounts.register("alice", "alice@example.test", "alice password")
    reply = browser.submit("/signin", "/signin", {"username": "alice", "password": "alice password"})
    assert reply.status_code == 302, reply.body
    return browser


def test_signin_page_is_a_safe_form_with_a_csrf_token(browser):
    response = browser.get("/signin")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    fields = parse(response.body.decode()).forms[0].fields
    assert set(fields) >= {"csrf", "username", "password", "next"}
    assert "IMGURCSRF" in browser.cookies


def test_signin_page_signs_in_and_goes_on(browser, aws):
    accounts.register("alice", "alice@example.test", "alice password")
    reply = browser.submit(
        "/signin?next=/account/apps", "/signin", {"username": "alice", "password": "alice password"}
    )
    assert reply.status_code == 302 and reply.headers["Location"] == "/account/apps"
    assert "IMGURSESSION" in browser.cookies
    assert ">alice<" in browser.get("/account").body.decode()


def test_signin_never_redirects_off_site(browser, aws):
    accounts.register("alice", "alice@example.test", "alice password")
    for next_path in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"):
        values = {"username": "alice", "password": "alice password", "next": next_path}
        assert Browser(browser.http).submit("/signin", "/signin", values).headers["Location"] == "/account"


def test_signin_page_failure_reads_the_same_for_unknown_user(browser, aws):
    accounts.register("alice", "alice@example.test", "alice password")
    unknown = browser.submit("/signin", "/signin", {"username": "nobody", "password": "x" * 8})
    wrong = browser.submit("/signin", "/signin", {"username": "alice", "password": "x" * 8})
    assert unknown.status_code == wrong.status_code == 401
    assert parse(unknown.body.decode()).texts["message"] == parse(wrong.body.decode()).texts["message"]


def test_forms_refuse_a_missing_or_bad_csrf_token(browser, aws):
    accounts.register("alice", "alice@example.test", "alice password")
    browser.get("/signin")  # the CSRF cookie
    values = {"username": "alice", "password": "alice password"}
    assert browser.request("POST", "/signin", values).status_code == 403
    assert browser.request("POST", "/signin", {**values, "csrf": "forged"}).status_code == 403
    page = parse(browser.get("/signin").body.decode())
    token = page.forms[0].fields["csrf"]
    browser.cookies["IMGURCSRF"] = "another-cookie-value-of-enough-length-123"  # another browser's token
    assert browser.request("POST", "/signin", {**values, "csrf": token}).status_code == 403
    assert "IMGURSESSION" not in browser.cookies


def test_forms_refuse_a_foreign_origin(browser, aws):
    accounts.register("alice", "alice@example.test", "alice password")
    values = {"username": "alice", "password": "alice password"}
    assert browser.submit("/signin", "/signin", values, Origin="https://evil.example").status_code == 403


def test_register_page_creates_a_signed_in_account(browser, aws):
    values = {"username": "bob", "email": "bob@example.test", "password": "bob password"}
    reply = browser.submit("/register", "/register", values)
    assert reply.status_code == 302 and "IMGURSESSION" in browser.cookies
    again = Browser(browser.http).submit("/register", "/register", values)
    assert again.status_code == 400 and "taken" in parse(again.body.decode()).texts["message"]


def test_account_pages_need_a_session(browser, aws):
    reply = browser.get("/account")
    assert reply.status_code == 302 and reply.headers["Location"] == "/signin?next=%2Faccount"
    assert browser.get("/account/apps").headers["Location"] == "/signin?next=%2Faccount%2Fapps"


def test_account_settings_form(signed_in):
    reply = signed_in.submit("/account", "/account", {"default_album_privacy": "secret"})
    assert reply.status_code == 200 and "saved" in parse(reply.body.decode()).texts
    account = bootstrap.accounts().account("alice")
    assert (account.default_album_privacy, account.public_images) == ("secret", False)


def test_apps_page_registers_lists_and_revokes(signed_in):
    reply = signed_in.submit(
        "/account/apps", "/account/apps", {"name": "<b>My</b> app", "callback": CALLBACK}
    )
    assert reply.status_code == 200
    html = reply.body.decode()
    assert "&lt;b&gt;My&lt;/b&gt; app" in html and "<b>My</b>" not in html
    app = accounts.applications_of(bootstrap.accounts().account("alice"))[0]
    for secret in (app.api_key, app.consumer_key, app.consumer_secret):
        assert secret in html
    revoke = next(f for f in parse(html).forms if f.fields.get("action") == "revoke")
    reply = signed_in.request("POST", "/account/apps", revoke.fields)
    assert reply.status_code == 200 and "revoked" in reply.body.decode()
    assert bootstrap.accounts().application(app.consumer_key).revoked
    bad = signed_in.submit("/account/apps", "/account/apps", {"name": "x", "callback": "ftp://nope"})
    assert bad.status_code == 400 and "callback" in parse(bad.body.decode()).texts["message"]


def test_signout_ends_the_session(signed_in):
    cookie = signed_in.cookies["IMGURSESSION"]
    reply = signed_in.submit("/account", "/signout")
    assert reply.status_code == 302 and "IMGURSESSION" not in signed_in.cookies
    assert accounts.session_account(cookie) is None


def test_forgot_and_reset_pages(browser, aws, caplog):
    caplog.set_level(logging.INFO, logger="imgshelf.mail")
    accounts.register("alice", "alice@example.test", "alice password")
    unknown = browser.submit("/forgot", "/forgot", {"identifier": "nobody@example.test"})
    known = browser.submit("/forgot", "/forgot", {"identifier": "alice@example.test"})
    assert parse(unknown.body.decode()).texts["sent"] == parse(known.body.decode()).texts["sent"]
    link = re.search(r"http://imgshelf\.test(/reset\?token=\S+)", caplog.text).group(1)
    done = browser.submit(link, "/reset", {"password": "a new password"})
    assert done.status_code == 200 and "done" in parse(done.body.decode()).texts
    again = browser.submit(link, "/reset", {"password": "another password"})
    assert again.status_code == 400
    assert accounts.sign_in("alice", "a new password", "192.0.2.1")[0].name == "alice"


# The OAuth approval page --------------------------------------------------------------------------
def _pending(client: Any, consumer: Consumer, callback: str) -> str:
    reply = call(client.http, consumer, "POST", "/oauth/request_token", callback=callback)
    return form(reply)["oauth_token"]


def test_authorize_page_asks_to_sign_in_first(client, browser):
    _, consumer = make_user("owner")
    token = _pending(client, consumer, "oob")
    reply = browser.get(f"/oauth/authorize?oauth_token={token}")
    assert reply.status_code == 302
    assert reply.headers["Location"] == "/signin?next=" + f"%2Foauth%2Fauthorize%3Foauth_token%3D{token}"


def test_authorize_page_with_oob_shows_a_pin(client, signed_in):
    _, consumer = make_user("owner")
    token = _pending(client, consumer, "oob")
    page = parse(signed_in.get(f"/oauth/authorize?oauth_token={token}").body.decode())
    assert page.texts["app-name"] == "owner's client"
    reply = signed_in.submit(
        f"/oauth/authorize?oauth_token={token}", "/oauth/authorize", {"decision": "allow"}
    )
    pin = parse(reply.body.decode()).texts["pin"]
    assert bootstrap.accounts().request_token(token).verifier == pin
    assert bootstrap.accounts().request_token(token).account == "alice"


def test_authorize_page_with_a_callback_redirects_with_the_verifier(client, signed_in):
    _, consumer = make_user("owner")
    token = _pending(client, consumer, CALLBACK + "?state=1")
    reply = signed_in.submit(
        f"/oauth/authorize?oauth_token={token}", "/oauth/authorize", {"decision": "allow"}
    )
    assert reply.status_code == 302
    location = urlsplit(reply.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    query = dict(parse_qsl(location.query))
    assert query["oauth_token"] == token and query["state"] == "1" and query["oauth_verifier"]


def test_authorize_page_deny_gives_no_verifier(client, signed_in):
    _, consumer = make_user("owner")
    token = _pending(client, consumer, CALLBACK)
    reply = signed_in.submit(
        f"/oauth/authorize?oauth_token={token}", "/oauth/authorize", {"decision": "deny"}
    )
    assert reply.status_code == 200 and "denied" in reply.body.decode()
    assert "pin" not in parse(reply.body.decode()).texts
    assert bootstrap.accounts().request_token(token) is None


def test_authorize_page_refuses_without_csrf_and_for_unknown_tokens(client, signed_in):
    _, consumer = make_user("owner")
    token = _pending(client, consumer, "oob")
    reply = signed_in.request("POST", "/oauth/authorize", {"oauth_token": token, "decision": "allow"})
    assert reply.status_code == 403
    assert bootstrap.accounts().request_token(token).verifier is None
    assert signed_in.get("/oauth/authorize?oauth_token=" + "0" * 40).status_code == 404
