"""Regressions found in review: side-load CSRF, envelopes everywhere, metering refusals, 503s."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from chalicelib import bootstrap
from chalicelib.credits import DynamoCreditLedger
from chalicelib.errors import LimitExceeded
from chalicelib.services import accounts
from tests import images
from tests.api.conftest import nothing_stored
from tests.api.test_accounts import session_from, signin
from tests.httpserver import serving


def test_side_load_without_a_url_is_a_400_envelope(client):
    response = client.http.get("/2/upload.json")
    assert response.status_code == 400
    assert json.loads(response.body)["error"]["message"] == "No url was provided"
    assert "X-RateLimit-Remaining" in response.headers


def test_cookie_side_load_by_get_never_uploads_into_the_account(client, monkeypatch):
    monkeypatch.setenv("SIDELOAD_ALLOW_HOSTS", "127.0.0.1")
    bootstrap.reset()
    accounts.register("Alice", "alice@example.test", "alice password")
    cookie = session_from(signin(client, "Alice", "alice password"))
    with serving() as served:
        served.files["/cat.png"] = (images.png(), "image/png")
        response = client.http.get(
            f"/2/upload?url={quote(served.url('/cat.png'))}", headers={"Cookie": f"IMGURSESSION={cookie}"}
        )
    assert response.status_code == 302
    image_hash = response.headers["Location"].rsplit("/", 1)[1]
    image = bootstrap.records().image(image_hash)
    assert image is not None and image.owner is None


def test_throttled_records_write_is_503_and_leaves_nothing(api, aws_calls):
    api.client.http.get(f"/2/credits.json?key={api.key}")
    aws_calls.fail("dynamodb.TransactWriteItems", "ThrottlingException")
    response = api.upload()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert nothing_stored()


def test_a_cost_above_the_limit_is_refused_without_a_write(aws, aws_calls):
    ledger: DynamoCreditLedger = bootstrap.credit_ledger()
    aws_calls.reset()
    with pytest.raises(LimitExceeded):
        ledger.charge("anon:small", 10, 5)
    assert aws_calls.calls == []


def test_refused_credentials_are_charged_to_the_source_ip(client):
    remaining = []
    for attempt in range(3):
        response = client.http.get(f"/2/credits.json?key=bogus{attempt}")
        assert response.status_code == 401
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
    signed = client.http.get("/2/credits.json?oauth_consumer_key=x&oauth_signature=y&oauth_token=z")
    assert signed.status_code == 401
    remaining.append(int(signed.headers["X-RateLimit-Remaining"]))
    assert remaining == [499, 498, 497, 496]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("PATCH", "/2/credits.json", 405),
        ("HEAD", "/2/credits.json", 405),
        ("GET", "/2", 404),
        ("GET", "/2/a/b/c/d.json", 404),
    ],
)
def test_other_methods_and_paths_get_the_envelope(client, method, path, status):
    response = client.http.request(method, path)
    assert response.status_code == status
    assert "X-RateLimit-Limit" in response.headers
    if method != "HEAD":
        assert b"error" in response.body


def test_delete_whose_object_removal_failed_can_be_retried(api, aws_calls):
    from tests.api.conftest import stored_keys

    image = api.upload_ok()["image"]
    aws_calls.fail("s3.DeleteObjects", "InternalError")
    failed = api.client.http.delete(f"/2/delete/{image['deletehash']}.json")
    assert failed.status_code == 500
    assert api.client.http.get(f"/2/image/{image['hash']}.json").status_code == 404  # gone already
    retried = api.client.http.delete(f"/2/delete/{image['deletehash']}.json")
    assert retried.status_code == 200
    assert stored_keys() == []
    assert api.client.http.delete(f"/2/delete/{image['deletehash']}.json").status_code == 400


def test_pages_work_under_a_stage_prefix(client, monkeypatch):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://abc123.execute-api.us-east-1.amazonaws.com/api")
    bootstrap.reset()
    response = client.http.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"] == "/api/signin?next=%2Faccount"
    page = client.http.get("/signin")
    assert b'action="/api/signin"' in page.body
    assert b'href="/api/register"' in page.body


def test_a_refused_key_costs_one_credits_write_and_no_extra_read(client, aws_calls):
    aws_calls.reset()
    response = client.http.get("/2/credits.json?key=bogus")
    assert response.status_code == 401
    # the key lookup, then the IP's charge, whose result gives the headers
    assert aws_calls.calls == ["dynamodb.GetItem", "dynamodb.UpdateItem"]
    assert response.headers["X-RateLimit-Remaining"] == "499"
