"""Signed calls across accounts (R23) and the credit tiers of signed accounts."""

from __future__ import annotations

import json

import pytest

from chalicelib import bootstrap
from tests import images
from tests.api.test_oauth import Consumer, authorize, call, error_of, make_user


@pytest.fixture
def alice(client) -> tuple:
    account, consumer = make_user("alice")
    return account, authorize(client.http, account, consumer)


# Cross-account (R23) ----------------------------------------------------------------------------------
def test_one_account_cannot_touch_anothers_images_or_tokens(client, alice):
    _, alice_held = alice
    bob, bob_consumer = make_user("bob", callback="oob")
    bob_held = authorize(client.http, bob, bob_consumer)
    content_type, body = images.multipart({}, {"image": ("b.png", images.png())})
    reply = call(
        client.http,
        bob_held,
        "POST",
        "/2/account/images.json",
        headers={"Content-Type": content_type},
        raw_body=body,
    )
    bobs = json.loads(reply.body)["images"]["image"]["hash"]
    assert call(client.http, alice_held, "GET", f"/2/account/images/{bobs}.json").status_code == 404
    assert call(client.http, alice_held, "DELETE", f"/2/account/images/{bobs}.json").status_code == 403
    assert bootstrap.records().image(bobs) is not None
    # Alice's token with Bob's consumer credentials (or the reverse) is no token at all.
    mixed = Consumer(bob_held.app, alice_held.token, alice_held.token_secret)
    assert call(client.http, mixed, "GET", "/2/account.json").status_code == 401
    call(client.http, alice_held, "POST", "/2/account.json", body="default_album_privacy=hidden")
    assert bootstrap.accounts().account("bob").default_album_privacy == "public"
    assert json.loads(call(client.http, bob_held, "GET", "/2/account.json").body)["account"]["url"] == "bob"


# Credit tiers ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("pro", "allowed"), [(False, 3), (True, 6)])
def test_signed_uploads_are_limited_by_the_account_tier(client, monkeypatch, pro, allowed):
    for name, value in {
        "CREDITS_USER_PER_HOUR": "30",
        "CREDITS_PRO_PER_HOUR": "60",
        "UPLOAD_COST": "10",
    }.items():
        monkeypatch.setenv(name, value)
    bootstrap.reset()
    account, consumer = make_user()
    bootstrap.accounts().set_pro(account.name, pro)
    held = authorize(client.http, account, consumer)
    content_type, body = images.multipart({}, {"image": ("p.png", images.png((8, 8)))})
    statuses = [
        call(
            client.http,
            held,
            "POST",
            "/2/account/images.json",
            headers={"Content-Type": content_type},
            raw_body=body,
        )
        for _ in range(allowed + 1)
    ]
    assert [r.status_code for r in statuses] == [200] * allowed + [403]
    assert error_of(statuses[-1]) == "API limits exceeded"
    assert statuses[-1].headers["X-RateLimit-Limit"] == ("60" if pro else "30")
