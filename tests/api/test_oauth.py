"""OAuth 1.0a through the Chalice test client: the three legs, signed /2/ calls, the negative matrix."""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from chalicelib import bootstrap
from chalicelib.auth import oauth
from chalicelib.errors import Unauthorized
from chalicelib.records import Application
from chalicelib.records.accounts import Account
from chalicelib.services import accounts
from tests import images

BASE = "http://imgshelf.test"  # PUBLIC_BASE_URL in tests/conftest.py
CALLBACK = "https://client.example/oauth/done"


@dataclass
class Consumer:
    app: Application
    token: str | None = None
    token_secret: str | None = None


def sign(
    consumer: Consumer,
    method: str,
    path: str,
    *,
    body: str | None = None,
    headers: dict[str, str] | None = None,
    signature_type: str = "AUTH_HEADER",
    signature_method: str = "HMAC-SHA1",
    base: str = BASE,
    callback: str | None = None,
    verifier: str | None = None,
    timestamp: int | None = None,
    consumer_secret: str | None = None,
    token_secret: str | None = None,
    realm: str | None = None,
) -> tuple[str, dict[str, str], str | None]:
    """The path (with query), headers and body a client signing for `base` + `path` would send."""
    from oauthlib.oauth1 import Client

    client = Client(
        consumer.app.consumer_key,
        client_secret=consumer_secret or consumer.app.consumer_secret,
        resource_owner_key=consumer.token,
        resource_owner_secret=token_secret or consumer.token_secret,
        callback_uri=callback,
        verifier=verifier,
        signature_method=signature_method,
        signature_type=signature_type,
        timestamp=str(timestamp if timestamp is not None else int(bootstrap.clock()())),
        nonce=secrets.token_hex(16),
        realm=realm,
    )
    headers = dict(headers or {})
    if body is not None:
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    uri, signed_headers, signed_body = client.sign(base + path, method, body=body, headers=headers)
    parts = urlsplit(uri)
    return parts.path + (f"?{parts.query}" if parts.query else ""), dict(signed_headers), signed_body


def call(
    http: Any,
    consumer: Consumer,
    method: str,
    path: str,
    *,
    raw_body: bytes | None = None,
    unsigned_headers: dict[str, str] | None = None,
    **options: Any,
) -> Any:
    """Sign and send; `raw_body` goes out unsigned (multipart), `body` signed (urlencoded)."""
    signed_path, headers, body = sign(consumer, method, path, **options)
    payload = raw_body if raw_body is not None else (body or "").encode()
    return http.request(method, signed_path, headers={**headers, **(unsigned_headers or {})}, body=payload)


def form(response: Any) -> dict[str, str]:
    assert response.headers["Content-Type"] == "application/x-www-form-urlencoded", response.headers
    return dict(parse_qsl(response.body.decode()))


def error_of(response: Any) -> str:
    return json.loads(response.body)["error"]["message"]


def make_user(name: str = "alice", *, callback: str = CALLBACK) -> tuple[Account, Consumer]:
    account = accounts.register(name, f"{name}@example.test", f"{name} password")
    return account, Consumer(accounts.create_application(account, f"{name}'s client", callback))


def authorize(http: Any, account: Account, consumer: Consumer, **options: Any) -> Consumer:
    """Request token, approval (the service the page uses), access token: a consumer holding a token."""
    reply = call(http, Consumer(consumer.app), "POST", "/oauth/request_token", callback="oob", **options)
    assert reply.status_code == 200, reply.body
    temporary = form(reply)
    approval = oauth.approve(temporary["oauth_token"], account.name)
    pending = Consumer(consumer.app, temporary["oauth_token"], temporary["oauth_token_secret"])
    reply = call(http, pending, "POST", "/oauth/access_token", verifier=approval.verifier, **options)
    assert reply.status_code == 200, reply.body
    granted = form(reply)
    return Consumer(consumer.app, granted["oauth_token"], granted["oauth_token_secret"])


@pytest.fixture
def alice(client) -> tuple[Account, Consumer]:
    account, consumer = make_user("alice")
    return account, authorize(client.http, account, consumer)


# The three legs --------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_request_token_is_form_encoded_and_confirms_the_callback(client, method):
    _, consumer = make_user()
    reply = call(client.http, consumer, method, "/oauth/request_token", callback=CALLBACK + "/step")
    assert reply.status_code == 200
    body = form(reply)
    assert len(body["oauth_token"]) == 40 and len(body["oauth_token_secret"]) == 40
    assert body["oauth_callback_confirmed"] == "true"
    assert bootstrap.accounts().request_token(body["oauth_token"]).callback == CALLBACK + "/step"


def test_request_token_without_callback_is_out_of_band(client):
    _, consumer = make_user()
    reply = call(client.http, consumer, "POST", "/oauth/request_token", realm="imgshelf")
    token = form(reply)["oauth_token"]
    assert bootstrap.accounts().request_token(token).callback == "oob"


@pytest.mark.parametrize(
    ("signature_type", "signature_method"),
    [("AUTH_HEADER", "HMAC-SHA1"), ("QUERY", "HMAC-SHA256"), ("BODY", "HMAC-SHA1"), ("BODY", "HMAC-SHA256")],
)
def test_three_legs_then_signed_account_calls(client, signature_type, signature_method):
    account, consumer = make_user()
    options = {"signature_type": signature_type, "signature_method": signature_method}
    body = "" if signature_type == "BODY" else None  # token steps signed in an (empty) form body
    held = authorize(client.http, account, consumer, body=body, **options)
    if signature_type == "BODY":
        reply = call(client.http, held, "POST", "/2/account.json", body="public_images=true", **options)
    else:
        reply = call(client.http, held, "GET", "/2/account.json", **options)
    assert reply.status_code == 200, reply.body
    assert json.loads(reply.body)["account"]["url"] == "alice"
    assert reply.headers["X-RateLimit-Limit"] == "1000"


def test_signed_account_call_accepts_a_realm_and_a_body_hash(client, alice):
    _, held = alice
    body_hash = "oauth_body_hash=2jmj7l5rSw0yVb%2FvlWAYkK%2FYBwk%3D"  # SHA-1 of an empty body
    reply = call(client.http, held, "GET", f"/2/account.json?{body_hash}", signature_type="QUERY")
    assert reply.status_code == 200, reply.body
    reply = call(client.http, held, "GET", "/2/account.json", realm="http://imgshelf.test/")
    assert reply.status_code == 200, reply.body


def test_account_object_has_string_booleans_and_settings_update(client, alice):
    _, held = alice
    account = json.loads(call(client.http, held, "GET", "/2/account.json").body)["account"]
    assert account == {
        "url": "alice",
        "is_pro": "false",
        "default_album_privacy": "public",
        "public_images": "false",
    }
    reply = call(
        client.http, held, "POST", "/2/account.json", body="default_album_privacy=secret&public_images=1"
    )
    assert json.loads(reply.body)["account"]["default_album_privacy"] == "secret"
    assert json.loads(reply.body)["account"]["public_images"] == "true"
    bad = call(client.http, held, "POST", "/2/account.json", body="default_album_privacy=everyone")
    assert bad.status_code == 400


def test_signed_multipart_upload_lands_in_the_account(client, alice):
    _, held = alice
    content_type, body = images.multipart({"title": "mine"}, {"image": ("C:\\pics\\cat.png", images.png())})
    reply = call(
        client.http,
        held,
        "POST",
        "/2/account/images.json",
        headers={"Content-Type": content_type},
        raw_body=body,
    )
    assert reply.status_code == 200, reply.body
    uploaded = json.loads(reply.body)["images"]
    assert uploaded["image"]["name"] == "cat.png" and uploaded["image"]["deletehash"]
    assert uploaded["links"]["delete_page"].startswith(BASE + "/delete/")
    assert bootstrap.records().image(uploaded["image"]["hash"]).owner == "alice"


def test_signed_anonymous_upload_lands_in_the_signers_account(client, alice):
    _, held = alice
    encoded = base64.b64encode(images.png()).decode()
    reply = call(
        client.http, held, "POST", "/2/upload.json", body=urlencode({"image": encoded, "type": "base64"})
    )
    assert reply.status_code == 200, reply.body
    image_hash = json.loads(reply.body)["upload"]["image"]["hash"]
    mine = call(client.http, held, "GET", f"/2/account/images/{image_hash}.json")
    assert mine.status_code == 200
    assert json.loads(mine.body)["images"]["image"]["deletehash"]
    gone = call(client.http, held, "DELETE", f"/2/account/images/{image_hash}.json")
    assert json.loads(gone.body) == {"images": {"message": "Success"}}
    assert call(client.http, held, "GET", f"/2/account/images/{image_hash}.json").status_code == 404
    assert call(client.http, held, "DELETE", f"/2/account/images/{image_hash}.json").status_code == 404


def test_signed_credits_report_the_account_bucket(client, alice):
    _, held = alice
    reply = call(client.http, held, "GET", "/2/credits.json")
    assert json.loads(reply.body)["credits"]["limit"] == 1000
    assert reply.headers["X-RateLimit-Limit"] == "1000"


# The negative matrix ------------------------------------------------------------------------------
def test_wrong_consumer_secret_is_401(client, alice):
    _, held = alice
    reply = call(client.http, held, "GET", "/2/account.json", consumer_secret="0" * 32)
    assert reply.status_code == 401
    assert error_of(reply) == "Invalid OAuth signature or token"
    assert "X-RateLimit-Limit" in reply.headers
    temporary = call(
        client.http, Consumer(held.app), "POST", "/oauth/request_token", consumer_secret="0" * 32
    )
    assert temporary.status_code == 401


def test_wrong_token_secret_is_401(client, alice):
    _, held = alice
    assert call(client.http, held, "GET", "/2/account.json", token_secret="0" * 40).status_code == 401


def test_replayed_nonce_is_401(client, alice):
    _, held = alice
    path, headers, _ = sign(held, "GET", "/2/account.json")
    assert client.http.get(path, headers=headers).status_code == 200
    replay = client.http.get(path, headers=headers)
    assert replay.status_code == 401


def test_stale_or_future_timestamp_is_401(client, alice, clock):
    _, held = alice
    assert (
        call(client.http, held, "GET", "/2/account.json", timestamp=int(clock.now) - 601).status_code == 401
    )
    assert (
        call(client.http, held, "GET", "/2/account.json", timestamp=int(clock.now) + 601).status_code == 401
    )
    assert (
        call(client.http, held, "GET", "/2/account.json", timestamp=int(clock.now) - 590).status_code == 200
    )


def test_plaintext_signatures_are_refused(client, alice):
    _, held = alice
    assert call(client.http, held, "GET", "/2/account.json", signature_method="PLAINTEXT").status_code == 401
    reply = call(
        client.http, Consumer(held.app), "POST", "/oauth/request_token", signature_method="PLAINTEXT"
    )
    assert reply.status_code == 401
    assert form(reply)["error"] == "invalid_signature_method"


def _request_token(client: Any, consumer: Consumer, callback: str = "oob") -> Consumer:
    temporary = form(
        call(client.http, Consumer(consumer.app), "POST", "/oauth/request_token", callback=callback)
    )
    return Consumer(consumer.app, temporary["oauth_token"], temporary["oauth_token_secret"])


def test_request_token_is_single_use(client):
    account, consumer = make_user()
    pending = _request_token(client, consumer)
    verifier = oauth.approve(pending.token, account.name).verifier
    assert call(client.http, pending, "POST", "/oauth/access_token", verifier=verifier).status_code == 200
    again = call(client.http, pending, "POST", "/oauth/access_token", verifier=verifier)
    assert again.status_code == 401


def test_access_token_needs_the_right_verifier(client):
    account, consumer = make_user()
    pending = _request_token(client, consumer)
    verifier = oauth.approve(pending.token, account.name).verifier
    assert call(client.http, pending, "POST", "/oauth/access_token").status_code == 401
    wrong = "A" * len(verifier) if verifier != "A" * len(verifier) else "B" * len(verifier)
    assert call(client.http, pending, "POST", "/oauth/access_token", verifier=wrong).status_code == 401
    assert call(client.http, pending, "POST", "/oauth/access_token", verifier=verifier).status_code == 200


def test_unapproved_or_denied_request_token_gives_no_access_token(client):
    _, consumer = make_user()
    pending = _request_token(client, consumer)
    fake = oauth.new_verifier()
    assert call(client.http, pending, "POST", "/oauth/access_token", verifier=fake).status_code == 401
    oauth.deny(pending.token)
    assert oauth.pending(pending.token) is None


def test_request_token_expires_after_an_hour(client, clock):
    account, consumer = make_user()
    pending = _request_token(client, consumer)
    clock.advance(3601)
    assert oauth.pending(pending.token) is None
    with pytest.raises(Unauthorized, match="expired"):
        oauth.approve(pending.token, account.name)
    late = _request_token(client, consumer)
    verifier = oauth.approve(late.token, account.name).verifier
    clock.advance(3601)
    assert call(client.http, late, "POST", "/oauth/access_token", verifier=verifier).status_code == 401


def test_callback_outside_the_registered_one_is_refused(client):
    _, consumer = make_user()
    for callback in (
        "https://evil.example/oauth/done",
        "https://client.example.evil.example/oauth/done",
        "https://client.example/oauth/doneX",
        "http://client.example/oauth/done",
        "https://client.example/other",
        "https://user@client.example/oauth/done",
        "https://client.example/oauth/done/../../admin",
    ):
        reply = call(client.http, consumer, "POST", "/oauth/request_token", callback=callback)
        assert reply.status_code == 401, callback


def test_callback_under_the_registered_one_is_accepted(client):
    _, consumer = make_user()
    for callback in (CALLBACK, CALLBACK + "/x?state=1", "oob"):
        assert (
            call(client.http, consumer, "POST", "/oauth/request_token", callback=callback).status_code == 200
        )


def test_signature_for_a_forged_host_fails_and_the_public_url_passes(client, alice):
    _, held = alice
    forged = {"Host": "evil.test", "X-Forwarded-Host": "evil.test", "X-Forwarded-Proto": "https"}
    for base in ("http://evil.test", "https://evil.test", "https://imgshelf.test"):
        # The client signs the URL it sees: the forged host (oauthlib's client also reads Host).
        reply = call(client.http, held, "GET", "/2/account.json", base=base, headers=forged)
        assert reply.status_code == 401
    reply = call(client.http, held, "GET", "/2/account.json", unsigned_headers=forged)
    assert reply.status_code == 200  # signed for PUBLIC_BASE_URL: the headers change nothing


def test_unknown_consumer_costs_the_same_aws_calls_as_a_known_one(client, alice, aws_calls):
    _, held = alice
    unknown = Consumer(
        Application("f" * 41, "0" * 32, "k" * 32, "x", "oob", 0), held.token, held.token_secret
    )
    counts = []
    for consumer, options in (
        (held, {"consumer_secret": "0" * 32}),
        (unknown, {}),
        (held, {"token_secret": "1" * 40}),
    ):
        aws_calls.reset()
        assert call(client.http, consumer, "GET", "/2/account.json", **options).status_code == 401
        counts.append(list(aws_calls.calls))
    assert counts[0] == counts[1] == counts[2]

    # The check itself: a valid call and a forged consumer make the same reads and writes.
    def signed_request(consumer: Consumer) -> oauth.SignedRequest:
        path, headers, _ = sign(consumer, "GET", "/2/account.json")
        query = parse_qsl(urlsplit(path).query)
        return oauth.SignedRequest(
            "GET", "/2/account.json", query, {k.lower(): v for k, v in headers.items()}
        )

    aws_calls.reset()
    assert oauth.verify_resource(signed_request(held)).account.name == "alice"
    valid = list(aws_calls.calls)
    aws_calls.reset()
    with pytest.raises(Unauthorized):
        oauth.verify_resource(signed_request(unknown))
    assert aws_calls.calls == valid == ["dynamodb.PutItem", "dynamodb.BatchGetItem", "dynamodb.GetItem"]


def test_unknown_request_token_costs_the_same_as_a_wrong_verifier(client, aws_calls):
    account, consumer = make_user()
    pending = _request_token(client, consumer)
    oauth.approve(pending.token, account.name)
    unknown = Consumer(consumer.app, "e" * 40, "f" * 40)
    counts = []
    for holder in (pending, unknown):
        aws_calls.reset()
        reply = call(client.http, holder, "POST", "/oauth/access_token", verifier="A" * oauth.VERIFIER_LENGTH)
        assert reply.status_code == 401
        counts.append(list(aws_calls.calls))
    assert counts[0] == counts[1] == ["dynamodb.PutItem", "dynamodb.BatchGetItem"]


def test_revoked_application_tokens_stop_working(client, alice):
    account, held = alice
    accounts.revoke_application(account, held.app.consumer_key)
    assert call(client.http, held, "GET", "/2/account.json").status_code == 401
