"""Image info, delete, media links, URL side-loading, call budgets and failure injection."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from defusedxml import ElementTree

from chalicelib import bootstrap
from tests import images
from tests.api.conftest import nothing_stored, stored_keys, stored_kinds
from tests.httpserver import serving


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("SIDELOAD_ALLOW_HOSTS", "127.0.0.1")
    bootstrap.reset()
    with serving() as served:
        served.files["/cat.png"] = (images.png((20, 10)), "image/png")
        yield served


def test_image_info_has_no_owner_fields(api):
    uploaded = api.upload_ok(title="T")["image"]
    response = api.client.http.get(f"/2/image/{uploaded['hash']}.json")
    assert response.status_code == 200
    body = json.loads(response.body)["image"]
    assert body["image"]["hash"] == uploaded["hash"]
    assert body["image"]["title"] == "T"
    assert "deletehash" not in body["image"] and "name" not in body["image"]
    assert "delete_page" not in body["links"]
    xml = ElementTree.fromstring(api.client.http.get(f"/2/image/{uploaded['hash']}").body)
    assert xml.tag == "image" and xml.findtext("image/hash") == uploaded["hash"]


@pytest.mark.parametrize("name", ["nope123", "x" * 300, "..%2F", "abc.png"])
def test_unknown_image_is_404_envelope(client, name):
    response = client.http.get(f"/2/image/{name}.json")
    assert response.status_code == 404
    assert json.loads(response.body)["error"]["request"].startswith("/2/image/")


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_delete_by_deletehash_removes_everything(api, method):
    uploaded = api.upload_ok()["image"]
    response = api.client.http.request(method, f"/2/delete/{uploaded['deletehash']}.json")
    assert response.status_code == 200
    assert json.loads(response.body) == {"delete": {"message": "Success"}}
    assert stored_keys() == []
    assert "image" not in stored_kinds() and "deletehash" not in stored_kinds()
    assert "tombstone" in stored_kinds()
    assert api.client.http.get(f"/2/image/{uploaded['hash']}.json").status_code == 404
    again = api.client.http.request(method, f"/2/delete/{uploaded['deletehash']}.json")
    assert again.status_code == 400


def test_delete_xml_default(api):
    uploaded = api.upload_ok()["image"]
    body = api.client.http.get(f"/2/delete/{uploaded['deletehash']}").body
    assert ElementTree.fromstring(body).findtext("message") == "Success"


def test_unknown_deletehash_is_400(client):
    assert client.http.get("/2/delete/doesnotexist123.json").status_code == 400


def test_original_redirects_and_counts_a_view(api):
    uploaded = api.upload_ok()["image"]
    response = api.client.http.get(f"/{uploaded['hash']}.png")
    assert response.status_code == 302
    assert f"i/{uploaded['hash']}.png" in response.headers["Location"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    info = json.loads(api.client.http.get(f"/2/image/{uploaded['hash']}.json").body)["image"]["image"]
    assert info["views"] == 1
    assert info["bandwidth"] == info["size"]


def test_head_on_the_original_answers_without_counting(api):
    uploaded = api.upload_ok()["image"]
    assert api.client.http.request("HEAD", f"/{uploaded['hash']}.png").status_code == 302
    info = json.loads(api.client.http.get(f"/2/image/{uploaded['hash']}.json").body)["image"]["image"]
    assert info["views"] == 0


def test_thumbnail_link_leads_to_the_original_until_thumbnails_exist(api):
    uploaded = api.upload_ok()["image"]
    response = api.client.http.get(f"/{uploaded['hash']}s.jpg")
    assert response.status_code == 302
    assert f"i/{uploaded['hash']}.png" in response.headers["Location"]


def test_media_base_url_is_used_for_links_and_redirects(api, monkeypatch):
    monkeypatch.setenv("MEDIA_BASE_URL", "https://cdn.imgshelf.test")
    bootstrap.reset()
    uploaded = api.upload_ok()
    assert uploaded["links"]["original"] == f"https://cdn.imgshelf.test/{uploaded['image']['hash']}.png"
    response = api.client.http.get(f"/{uploaded['image']['hash']}.png")
    assert response.headers["Location"] == uploaded["links"]["original"]  # one layout for both


@pytest.mark.parametrize("path", ["/abcdefg.png", "/abcdefgs.jpg", "/abcdefgz.jpg", "/abc.png"])
def test_unknown_media_is_404(client, path):
    assert client.http.get(path).status_code == 404


def test_image_page_escapes_the_title(api):
    uploaded = api.upload_ok(title="<script>alert(1)</script>")["image"]
    response = api.client.http.get(f"/{uploaded['hash']}")
    assert response.status_code == 200
    assert b"<script>alert(1)" not in response.body
    assert b"&lt;script&gt;" in response.body
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_delete_page_confirms_then_deletes(api):
    uploaded = api.upload_ok()["image"]
    page = api.client.http.get(f"/delete/{uploaded['deletehash']}")
    assert b'id="confirm"' in page.body
    assert stored_keys() != []
    done = api.client.http.post(
        f"/delete/{uploaded['deletehash']}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=b"",
    )
    assert b'id="result"' in done.body
    assert stored_keys() == []


# --- side-loading -------------------------------------------------------------------------------
def test_upload_by_url_with_and_without_type(api, server):
    for extra in ({"type": "url"}, {}):
        from urllib.parse import urlencode

        body = urlencode({"key": api.key, "image": server.url("/cat.png"), **extra}).encode()
        response = api.client.http.post(
            "/2/upload.json", headers={"Content-Type": "application/x-www-form-urlencoded"}, body=body
        )
        assert response.status_code == 200, response.body
        image = json.loads(response.body)["upload"]["image"]
        assert (image["width"], image["height"], image["name"]) == (20, 10, "cat.png")


def test_side_load_get_redirects_to_the_new_image_page(client, server):
    response = client.http.get(f"/2/upload?url={quote(server.url('/cat.png'))}")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("http://imgshelf.test/") and len(location.rsplit("/", 1)[1]) == 7


def test_side_load_of_a_private_address_is_refused(api):
    response = api.client.http.post(
        f"/2/upload.json?key={api.key}&image={quote('http://169.254.169.254/latest/meta-data/')}"
    )
    assert response.status_code == 400
    assert nothing_stored()


def test_side_load_404_is_400(api, server):
    response = api.client.http.post(f"/2/upload.json?key={api.key}&image={quote(server.url('/missing.png'))}")
    assert response.status_code == 400
    assert nothing_stored()


def test_over_limit_upload_never_fetches_or_decodes(api, server, monkeypatch):
    monkeypatch.setenv("CREDITS_ANON_PER_HOUR", "10")
    bootstrap.reset()
    assert (
        api.client.http.post(
            f"/2/upload.json?key={api.key}&image={quote(server.url('/cat.png'))}"
        ).status_code
        == 200
    )
    assert server.requests == ["/cat.png"]
    refused = api.client.http.post(f"/2/upload.json?key={api.key}&image={quote(server.url('/cat.png'))}")
    assert refused.status_code == 403
    assert json.loads(refused.body)["error"]["message"] == "API limits exceeded"
    assert refused.headers["Retry-After"]
    assert server.requests == ["/cat.png"]  # the second call never reached the network
    # an undecodable file is refused for credits, not for its content: the decoder never ran
    assert json.loads(api.upload(b"garbage").body)["error"]["message"] == "API limits exceeded"


# --- AWS calls per request -----------------------------------------------------------------------
def test_call_budgets(api, aws_calls):
    api.client.http.get(f"/2/credits.json?key={api.key}")  # the key is cached from here on
    aws_calls.reset()
    uploaded = api.upload_ok()["image"]
    assert aws_calls.calls == ["dynamodb.UpdateItem", "s3.PutObject", "dynamodb.TransactWriteItems"]

    aws_calls.reset()
    api.client.http.get(f"/2/image/{uploaded['hash']}.json?key={api.key}")
    # a charged GET: exactly one credits call (the conditional UpdateItem), then one read
    assert aws_calls.calls == ["dynamodb.UpdateItem", "dynamodb.GetItem"]

    aws_calls.reset()
    api.client.http.get(f"/{uploaded['hash']}.png")
    assert aws_calls.calls == ["dynamodb.UpdateItem"]

    aws_calls.reset()
    api.client.http.get(f"/2/delete/{uploaded['deletehash']}.json?key={api.key}")
    assert len(aws_calls.calls) <= 5


# --- nothing half-written --------------------------------------------------------------------------
@pytest.mark.parametrize("operation", ["dynamodb.UpdateItem", "s3.PutObject", "dynamodb.TransactWriteItems"])
def test_failure_at_each_upload_call_leaves_nothing(api, aws_calls, operation):
    api.client.http.get(f"/2/credits.json?key={api.key}")
    aws_calls.fail(operation, "InternalError")
    response = api.upload()
    assert response.status_code == 500
    assert json.loads(response.body)["error"]["message"].startswith(("Upload failed", "A fatal error"))
    assert nothing_stored()
    assert api.upload().status_code == 200  # a retry makes a whole new image


def test_hash_collision_with_the_same_extension_never_overwrites(api):
    ids = iter(["AAAAAAA", "DDDDDDDDDDDDDD1", "AAAAAAA", "DDDDDDDDDDDDDD2", "BBBBBBB", "DDDDDDDDDDDDDD3"])
    bootstrap.override(new_id=lambda length: next(ids))
    first = api.upload_ok(images.png((10, 10)))["image"]
    second = api.upload_ok(images.png((20, 20)))["image"]
    assert (first["hash"], second["hash"]) == ("AAAAAAA", "BBBBBBB")
    kept = json.loads(api.client.http.get("/2/image/AAAAAAA.json").body)["image"]["image"]
    assert kept["width"] == 10
    import io

    from PIL import Image

    assert Image.open(io.BytesIO(bootstrap.image_store().get("i/AAAAAAA.png"))).size == (10, 10)


def test_hash_collision_with_another_extension_is_retried(api):
    ids = iter(["AAAAAAA", "DDDDDDDDDDDDDD1", "AAAAAAA", "DDDDDDDDDDDDDD2", "CCCCCCC", "DDDDDDDDDDDDDD3"])
    bootstrap.override(new_id=lambda length: next(ids))
    api.upload_ok(images.png())
    second = api.upload_ok(images.jpeg())["image"]
    assert second["hash"] == "CCCCCCC"
    assert stored_keys() == ["i/AAAAAAA.png", "i/CCCCCCC.jpg"]  # the orphan AAAAAAA.jpg was removed


def test_media_links_are_signed_with_sigv4(api):
    uploaded = api.upload_ok()["image"]
    location = api.client.http.get(f"/{uploaded['hash']}.png").headers["Location"]
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in location
    assert "X-Amz-Expires=600" in location
