"""The three OAuth legs over real HTTP with requests-oauthlib against the local stack, as v2 clients do."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from requests_oauthlib import OAuth1Session

from chalicelib import bootstrap
from tests import images
from tests.api.test_web_accounts import parse

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
CALLBACK = "http://127.0.0.1:9/client/done"  # never fetched: the test reads the redirect


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Any]:
    """The local stack in this process; it rewrites os.environ, which is put back afterwards."""
    from infra.local import LocalStack, free_port

    saved = dict(os.environ)
    running = LocalStack(port=free_port(), data_dir=tmp_path / "data").start()
    try:
        yield running
    finally:
        running.stop()
        os.environ.clear()
        os.environ.update(saved)
        bootstrap.reset()


def admin(stack: Any, *argv: str) -> dict[str, Any]:
    """infra.admin in its own process, pointed at the stack's embedded moto as its help says."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RECORDS_", "CREDITS_"))}
    done = subprocess.run(
        [sys.executable, "-m", "infra.admin", "--endpoint", stack.endpoint, *argv],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def make_user(stack: Any, callback: str, *, with_admin: bool = False) -> dict[str, Any]:
    # moto keeps its data per process, across stacks started in it: every test has its own user.
    name = f"alice-{secrets.token_hex(4)}"
    if with_admin:
        email = f"{name}@example.test"
        admin(stack, "create-account", name, "--email", email, "--password", "alice password")
        return admin(stack, "create-app", "--owner", name, "--name", "HTTP client", "--callback", callback)
    from chalicelib.services import accounts

    account = accounts.register(name, f"{name}@example.test", "alice password")
    app = accounts.create_application(account, "HTTP client", callback)
    return {"owner": name, "consumer_key": app.consumer_key, "consumer_secret": app.consumer_secret}


def sign_in(base: str, name: str) -> requests.Session:
    browser = requests.Session()
    fields = parse(browser.get(f"{base}/signin").text).forms[0].fields
    fields.update(username=name, password="alice password")
    reply = browser.post(f"{base}/signin", data=fields, allow_redirects=False, timeout=10)
    assert reply.status_code == 302, reply.text
    return browser


def approve(browser: requests.Session, authorize_url: str) -> requests.Response:
    page = browser.get(authorize_url, timeout=10)
    assert page.status_code == 200, page.text
    chosen = next(f for f in parse(page.text).forms if f.action == "/oauth/authorize")
    base = f"{urlsplit(authorize_url).scheme}://{urlsplit(authorize_url).netloc}"
    data = {**chosen.fields, "decision": "allow"}
    return browser.post(base + chosen.action, data=data, allow_redirects=False, timeout=10)


def upload_multipart(session: OAuth1Session, base: str) -> dict[str, Any]:
    reply = session.post(
        f"{base}/2/account/images.json", files={"image": ("cat.png", images.png())}, timeout=20
    )
    assert reply.status_code == 200, reply.text
    return json.loads(reply.text)["images"]


def test_three_legs_with_a_callback_and_header_signatures(stack):
    base = stack.url
    app = make_user(stack, CALLBACK, with_admin=True)
    client = OAuth1Session(
        app["consumer_key"], client_secret=app["consumer_secret"], callback_uri=CALLBACK + "/x"
    )
    client.fetch_request_token(f"{base}/oauth/request_token")
    reply = approve(sign_in(base, app["owner"]), client.authorization_url(f"{base}/oauth/authorize"))
    assert reply.status_code == 302 and reply.headers["Location"].startswith(CALLBACK + "/x?")
    client.parse_authorization_response(reply.headers["Location"])
    granted = client.fetch_access_token(f"{base}/oauth/access_token")
    assert len(granted["oauth_token"]) == 40

    account = client.get(f"{base}/2/account.json", timeout=10)
    assert account.status_code == 200 and account.headers["Content-Type"] == "application/json"
    assert json.loads(account.text)["account"]["url"] == app["owner"]
    assert upload_multipart(client, base)["image"]["deletehash"]

    uploaded = client.post(
        f"{base}/2/upload.json", data={"image": base64.b64encode(images.png()).decode()}, timeout=20
    )
    image_hash = json.loads(uploaded.text)["upload"]["image"]["hash"]
    mine = client.get(f"{base}/2/account/images/{image_hash}.json", timeout=10)
    assert mine.status_code == 200
    assert json.loads(mine.text)["images"]["links"]["delete_page"].startswith(base + "/delete/")

    forged = client.get(f"{base}/2/account.json", headers={"Host": "evil.test"}, timeout=10)
    assert forged.status_code == 401  # the client signed for the forged host


def test_three_legs_out_of_band_with_query_signatures(stack):
    base = stack.url
    app = make_user(stack, "oob")
    options = {"signature_type": "query", "signature_method": "HMAC-SHA256"}
    client = OAuth1Session(
        app["consumer_key"], client_secret=app["consumer_secret"], callback_uri="oob", **options
    )
    temporary = client.fetch_request_token(f"{base}/oauth/request_token")
    reply = approve(sign_in(base, app["owner"]), client.authorization_url(f"{base}/oauth/authorize"))
    pin = parse(reply.text).texts["pin"]
    granted = client.fetch_access_token(f"{base}/oauth/access_token", verifier=pin)
    assert granted["oauth_token"] != temporary["oauth_token"]
    account = client.get(f"{base}/2/account.json", timeout=10)
    assert account.status_code == 200, account.text
    assert "oauth_signature" in dict(parse_qsl(urlsplit(account.url).query))
    assert upload_multipart(client, base)["image"]["name"] == "cat.png"


def test_three_legs_out_of_band_with_body_signatures(stack):
    base = stack.url
    app = make_user(stack, "oob")
    options = {"signature_type": "body", "signature_method": "HMAC-SHA1"}
    client = OAuth1Session(app["consumer_key"], client_secret=app["consumer_secret"], **options)
    client.fetch_request_token(f"{base}/oauth/request_token")  # no oauth_callback at all: oob
    reply = approve(sign_in(base, app["owner"]), client.authorization_url(f"{base}/oauth/authorize"))
    granted = client.fetch_access_token(f"{base}/oauth/access_token", verifier=parse(reply.text).texts["pin"])
    updated = client.post(f"{base}/2/account.json", data={"default_album_privacy": "hidden"}, timeout=10)
    assert json.loads(updated.text)["account"]["default_album_privacy"] == "hidden"
    data = {"image": base64.b64encode(images.png()).decode(), "type": "base64", "title": "signed body"}
    uploaded = client.post(f"{base}/2/upload.json", data=data, timeout=20)
    assert uploaded.status_code == 200, uploaded.text
    header_client = OAuth1Session(
        app["consumer_key"],
        client_secret=app["consumer_secret"],
        resource_owner_key=granted["oauth_token"],
        resource_owner_secret=granted["oauth_token_secret"],
    )
    image_hash = json.loads(uploaded.text)["upload"]["image"]["hash"]
    mine = header_client.get(f"{base}/2/account/images/{image_hash}.json", timeout=10)
    assert json.loads(mine.text)["images"]["image"]["title"] == "signed body"
