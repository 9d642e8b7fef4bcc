"""Accounts: registration, sign-in and its limits, sessions and cookies, password resets, e-mail."""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import urlencode

import pytest

from chalicelib import bootstrap
from chalicelib.auth import tokens
from chalicelib.errors import BadRequest, Unauthorized
from chalicelib.services import accounts

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def alice(aws):
    return accounts.register("Alice", "alice@example.test", "alice password")


def set_cookies(response) -> list[str]:
    value = response.headers.get("Set-Cookie") or response.headers.get("set-cookie") or []
    return [value] if isinstance(value, str) else list(value)


def signin(client, username: str, password: str, **headers: str):
    body = urlencode({"username": username, "password": password}).encode()
    return client.http.post("/2/signin.json", headers={**FORM, **headers}, body=body)


def session_from(response) -> str:
    cookie = next(c for c in set_cookies(response) if c.startswith("IMGURSESSION="))
    return cookie.split(";")[0].split("=", 1)[1]


# Registration --------------------------------------------------------------------------------------
def test_register_stores_a_salted_scrypt_hash(aws):
    first = accounts.register("first", "first@example.test", "same password")
    second = accounts.register("second", "second@example.test", "same password")
    assert first.password_hash.startswith("scrypt$") and "same password" not in first.password_hash
    assert first.password_hash.split("$")[4] != second.password_hash.split("$")[4]
    assert bootstrap.accounts().account("first").password_hash == first.password_hash


def test_register_refuses_a_taken_name_or_email_clearly(alice):
    with pytest.raises(BadRequest, match="user name is taken"):
        accounts.register("alice", "other@example.test", "long enough")
    with pytest.raises(BadRequest, match="e-mail address is already registered"):
        accounts.register("bob", "ALICE@example.test", "long enough")


@pytest.mark.parametrize(
    ("name", "email", "password"),
    [
        ("ab", "a@example.test", "long enough"),
        ("has space", "a@example.test", "long enough"),
        ("x" * 33, "a@example.test", "long enough"),
        ("carol", "not-an-email", "long enough"),
        ("carol", "a@b", "long enough"),
        ("carol", "carol@example.test", "short"),
    ],
)
def test_register_validates_its_fields(name, email, password):  # refused before any AWS call
    with pytest.raises(BadRequest):
        accounts.register(name, email, password)


# Sign-in ------------------------------------------------------------------------------------------
def test_signin_sets_a_session_cookie_with_safe_attributes(client, alice):
    response = signin(client, "alice", "alice password")
    assert response.status_code == 200
    assert json.loads(response.body) == {"signin": {"message": "Success", "url": "Alice"}}
    cookie = next(c for c in set_cookies(response) if c.startswith("IMGURSESSION="))
    attributes = [a.strip() for a in cookie.split(";")]
    assert "HttpOnly" in attributes and "SameSite=Lax" in attributes and "Path=/" in attributes
    assert "Secure" not in attributes  # PUBLIC_BASE_URL is http:// in the tests
    assert response.headers["X-RateLimit-Limit"] == "500"


def test_signin_cookie_is_secure_under_https(client, alice, monkeypatch):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://img.example.test")
    bootstrap.reset()
    cookie = next(c for c in set_cookies(signin(client, "alice", "alice password")) if "IMGURSESSION" in c)
    assert "Secure" in [a.strip() for a in cookie.split(";")]


def test_signin_failures_read_the_same_for_unknown_user_and_wrong_password(client, alice):
    unknown = signin(client, "nobody", "alice password")
    wrong = signin(client, "alice", "wrong password")
    assert unknown.status_code == wrong.status_code == 401
    assert json.loads(unknown.body)["error"]["message"] == json.loads(wrong.body)["error"]["message"]
    assert "password" not in json.loads(wrong.body)["error"]["parameters"]
    assert not set_cookies(wrong)


def test_failed_signins_are_limited_per_user_name(client, alice):
    for _ in range(10):  # SIGNIN_FAILURES_PER_NAME's default
        assert signin(client, "alice", "wrong password").status_code == 401
    refused = signin(client, "alice", "alice password")  # even the right password, for an hour
    assert refused.status_code == 403
    assert json.loads(refused.body)["error"]["message"] == accounts.TooManySignIns.message
    assert int(refused.headers["Retry-After"]) > 0
    accounts.register("bob", "bob@example.test", "bob password")
    assert signin(client, "bob", "bob password").status_code == 200  # other names are unaffected


def test_failed_signins_are_limited_per_address(aws, monkeypatch):
    monkeypatch.setenv("SIGNIN_FAILURES_PER_IP", "3")
    bootstrap.reset()
    for name in ("u1", "u2", "u3"):
        with pytest.raises(Unauthorized):
            accounts.sign_in(name, "guess", "192.0.2.7")
    with pytest.raises(accounts.TooManySignIns):
        accounts.sign_in("u4", "guess", "192.0.2.7")
    with pytest.raises(Unauthorized):
        accounts.sign_in("u4", "guess", "192.0.2.8")


def test_signin_from_another_site_is_refused(client, alice):
    response = signin(client, "alice", "alice password", Origin="https://evil.example")
    assert response.status_code == 403
    assert not set_cookies(response)
    assert signin(client, "alice", "alice password", Origin="http://imgshelf.test").status_code == 200


def test_signin_needs_both_fields(client):
    response = client.http.post("/2/signin.json", headers=FORM, body=b"username=alice")
    assert response.status_code == 400


# The cookie on /2/ -----------------------------------------------------------------------------
def test_cookie_calls_to_the_account_are_accepted(client, alice):
    cookie = f"IMGURSESSION={session_from(signin(client, 'alice', 'alice password'))}"
    response = client.http.get("/2/account.json", headers={"Cookie": cookie})
    assert response.status_code == 200
    assert json.loads(response.body)["account"]["url"] == "Alice"
    credits = json.loads(client.http.get("/2/credits.json", headers={"Cookie": cookie}).body)["credits"]
    assert credits["limit"] == 1000
    update = client.http.post(
        "/2/account.json", headers={**FORM, "Cookie": cookie}, body=b"default_album_privacy=hidden"
    )
    assert json.loads(update.body)["account"]["default_album_privacy"] == "hidden"


def test_cookie_post_with_a_foreign_origin_is_refused(client, alice):
    cookie = f"IMGURSESSION={session_from(signin(client, 'alice', 'alice password'))}"
    headers = {**FORM, "Cookie": cookie}
    response = client.http.post(
        "/2/account.json", headers={**headers, "Origin": "https://evil.example"}, body=b"public_images=true"
    )
    assert response.status_code == 403
    assert bootstrap.accounts().account("alice").public_images is False
    same_site = client.http.post(
        "/2/account.json", headers={**headers, "Origin": "http://imgshelf.test"}, body=b"public_images=true"
    )
    assert same_site.status_code == 200
    # Reads stay open (CORS without credentials keeps their answers from other sites anyway).
    read = client.http.get("/2/account.json", headers={"Cookie": cookie, "Origin": "https://evil.example"})
    assert read.status_code == 200


def test_account_calls_without_credentials_are_401(client):
    assert client.http.get("/2/account.json").status_code == 401
    assert client.http.get("/2/account.json", headers={"Cookie": "IMGURSESSION=garbage"}).status_code == 401


def test_expired_session_is_refused(client, alice, clock):
    cookie = f"IMGURSESSION={session_from(signin(client, 'alice', 'alice password'))}"
    clock.advance(tokens.LIFETIMES["session"])
    assert client.http.get("/2/account.json", headers={"Cookie": cookie}).status_code == 401


def test_signing_out_ends_the_session(client, alice):
    token = session_from(signin(client, "alice", "alice password"))
    accounts.sign_out(accounts.session_account(token))
    assert accounts.session_account(token) is None
    assert client.http.get("/2/account.json", headers={"Cookie": f"IMGURSESSION={token}"}).status_code == 401


def test_forged_session_tokens_are_refused(client, alice):
    import jwt

    claims = {"sub": "Alice", "typ": "session", "iss": "http://imgshelf.test", "aud": "imgshelf:session"}
    claims |= {"iat": int(bootstrap.clock()()), "exp": int(bootstrap.clock()()) + 600, "jti": "x", "ep": 0}
    wrong_key = jwt.encode(claims, "another secret, long enough to be a key!!", algorithm="HS256")
    unsigned = jwt.encode(claims, None, algorithm="none")
    reset = tokens.issue("reset", "Alice", ep=0)
    for token in (wrong_key, unsigned, reset):
        response = client.http.get("/2/account.json", headers={"Cookie": f"IMGURSESSION={token}"})
        assert response.status_code == 401


# Password reset -------------------------------------------------------------------------------
def mailed_link(caplog) -> str:
    found = re.search(r"http://imgshelf\.test/reset\?token=(\S+)", caplog.text)
    assert found, caplog.text
    return found.group(1)


def test_password_reset_end_to_end(client, alice, caplog):
    caplog.set_level(logging.INFO, logger="imgshelf.mail")
    old_session = session_from(signin(client, "alice", "alice password"))
    accounts.forgot_password("alice@example.test")
    token = mailed_link(caplog)
    assert "alice@example.test" in caplog.text
    accounts.reset_password(token, "a brand new password")
    assert signin(client, "alice", "alice password").status_code == 401
    assert signin(client, "alice", "a brand new password").status_code == 200
    assert accounts.session_account(old_session) is None  # a reset signs every session out
    with pytest.raises(BadRequest, match="invalid or has expired"):
        accounts.reset_password(token, "yet another password")  # single use


def test_forgot_password_says_nothing_about_unknown_accounts(alice, caplog):
    caplog.set_level(logging.INFO, logger="imgshelf.mail")
    assert accounts.forgot_password("nobody@example.test") is None
    assert accounts.forgot_password("nobody") is None
    assert "reset?token=" not in caplog.text
    accounts.forgot_password("Alice")
    assert "reset?token=" in caplog.text


def test_reset_link_expires_after_an_hour(alice, caplog, clock):
    caplog.set_level(logging.INFO, logger="imgshelf.mail")
    accounts.forgot_password("alice")
    token = mailed_link(caplog)
    clock.advance(3600)
    with pytest.raises(BadRequest):
        accounts.reset_password(token, "too late password")


def test_older_reset_links_die_with_the_password(alice, caplog):
    caplog.set_level(logging.INFO, logger="imgshelf.mail")
    accounts.forgot_password("alice")
    first = mailed_link(caplog)
    caplog.clear()
    accounts.forgot_password("alice")
    second = mailed_link(caplog)
    accounts.reset_password(second, "the second password")
    with pytest.raises(BadRequest):
        accounts.reset_password(first, "the first password")


def test_session_token_is_not_a_reset_token(client, alice):
    session = session_from(signin(client, "alice", "alice password"))
    with pytest.raises(BadRequest):
        accounts.reset_password(session, "sneaky new password")


def test_reset_mail_goes_through_ses_when_configured(alice, monkeypatch):
    import boto3

    monkeypatch.setenv("MAIL_MODE", "ses")
    monkeypatch.setenv("MAIL_FROM", "imgshelf@example.test")
    bootstrap.reset()
    ses = boto3.client("ses")
    ses.verify_email_identity(EmailAddress="imgshelf@example.test")
    accounts.forgot_password("alice")
    assert ses.get_send_quota()["SentLast24Hours"] == 1
