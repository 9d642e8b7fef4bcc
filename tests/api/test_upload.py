"""POST /2/upload in every form v2 clients used, the image object, and every rejection."""

from __future__ import annotations

import base64
import json
import textwrap

import pytest
from defusedxml import ElementTree

from chalicelib import bootstrap
from tests import images
from tests.api.conftest import nothing_stored, stored_keys

LINKS = {
    "original",
    "imgur_page",
    "delete_page",
    "small_square",
    "big_square",
    "small_thumbnail",
    "medium_thumbnail",
    "large_thumbnail",
    "huge_thumbnail",
}


def test_multipart_upload_returns_the_full_image_object(api):
    upload = api.upload_ok(images.png((64, 48)), title="Cat", caption="On a mat", type="file")
    image, links = upload["image"], upload["links"]
    assert len(image["hash"]) == 7 and image["hash"].isalnum()
    assert len(image["deletehash"]) == 15 and image["deletehash"].isalnum()
    assert (image["width"], image["height"], image["type"]) == (64, 48, "image/png")
    assert image["animated"] == "false"
    assert (image["title"], image["caption"], image["name"]) == ("Cat", "On a mat", "photo.png")
    assert image["views"] == 0 and image["bandwidth"] == 0
    assert image["size"] > 0
    assert len(image["datetime"]) == 19
    assert set(links) == LINKS
    assert links["original"] == f"http://imgshelf.test/{image['hash']}.png"
    assert links["small_square"] == f"http://imgshelf.test/{image['hash']}s.jpg"
    assert links["delete_page"] == f"http://imgshelf.test/delete/{image['deletehash']}"
    assert stored_keys() == [f"i/{image['hash']}.png"]


def test_upload_xml_is_the_default(api):
    response = api.client.http.post(
        f"/2/upload?key={api.key}",
        headers={"Content-Type": images.multipart({}, {"image": ("a.png", images.png())})[0]},
        body=images.multipart({}, {"image": ("a.png", images.png())})[1],
    )
    root = ElementTree.fromstring(response.body)
    assert root.tag == "upload"
    assert root.findtext("image/animated") == "false"
    assert root.find("image/caption") is not None


def test_full_path_file_name_keeps_the_last_part(client, api_key):
    content_type, body = images.multipart({}, {"image": ("C:\\Users\\me\\Pictures\\cat.png", images.png())})
    response = client.http.post(
        f"/2/upload.json?key={api_key}", headers={"Content-Type": content_type}, body=body
    )
    assert json.loads(response.body)["upload"]["image"]["name"] == "cat.png"


@pytest.mark.parametrize("wrap", [None, 60, 76])
@pytest.mark.parametrize("with_type", [True, False])
def test_base64_urlencoded_wrapped_or_not(client, api_key, wrap, with_type):
    from urllib.parse import urlencode

    text = base64.b64encode(images.jpeg()).decode()
    if wrap:
        text = "\n".join(textwrap.wrap(text, wrap))
    fields = {"key": api_key, "image": text, "name": "None"}
    if with_type:
        fields["type"] = "base64"
    response = client.http.post(
        "/2/upload.json",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=urlencode(fields).encode(),
    )
    assert response.status_code == 200, response.body
    image = json.loads(response.body)["upload"]["image"]
    assert image["type"] == "image/jpeg"
    assert image["name"] is None


def test_base64_as_multipart_field(client, api_key):
    content_type, body = images.multipart(
        {"image": base64.b64encode(images.png()).decode(), "type": "base64"}, {}
    )
    response = client.http.post(
        f"/2/upload.json?key={api_key}", headers={"Content-Type": content_type}, body=body
    )
    assert response.status_code == 200, response.body


def test_raw_binary_body_with_query_parameters(client, api_key):
    response = client.http.post(
        f"/2/upload.json?key={api_key}&title=Raw&name=raw.gif",
        headers={"Content-Type": "application/octet-stream"},
        body=images.animated_gif(),
    )
    assert response.status_code == 200, response.body
    image = json.loads(response.body)["upload"]["image"]
    assert (image["type"], image["animated"], image["title"], image["name"]) == (
        "image/gif",
        "true",
        "Raw",
        "raw.gif",
    )


def test_raw_image_content_type_body(client, api_key):
    response = client.http.post(
        f"/2/upload.json?key={api_key}", headers={"Content-Type": "image/png"}, body=images.png()
    )
    assert response.status_code == 200, response.body


def test_raw_base64_text_body(client, api_key):
    response = client.http.post(
        f"/2/upload.json?key={api_key}&type=base64",
        headers={"Content-Type": "text/plain"},
        body=base64.encodebytes(images.png()),
    )
    assert response.status_code == 200, response.body


def test_upload_without_key_is_401_and_stores_nothing(client):
    content_type, body = images.multipart({}, {"image": ("a.png", images.png())})
    response = client.http.post("/2/upload.json", headers={"Content-Type": content_type}, body=body)
    assert response.status_code == 401
    assert "X-RateLimit-Limit" in response.headers
    assert nothing_stored()


def test_upload_with_unknown_key_is_401(client):
    response = client.http.post(
        "/2/upload.json?key=bogus", headers={"Content-Type": "image/png"}, body=images.png()
    )
    assert response.status_code == 401


def test_missing_image_is_400(client, api_key):
    response = client.http.post(f"/2/upload.json?key={api_key}")
    assert response.status_code == 400
    assert json.loads(response.body)["error"]["message"] == "No image was provided"


@pytest.mark.parametrize(
    "payload",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b"<html><body>not an image</body></html>",
        b"%!PS-Adobe-3.0 EPSF-3.0\n",
        b"8BPS\x00\x01" + b"\x00" * 40,
        b"just some text renamed to photo.png",
    ],
    ids=["svg", "html", "eps", "psd", "text"],
)
def test_unsupported_files_are_refused_and_nothing_is_stored(api, payload):
    response = api.upload(payload)
    assert response.status_code == 400
    assert json.loads(response.body)["error"]["message"] == "That file type is not supported!"
    assert nothing_stored()


def test_truncated_image_is_refused(api):
    response = api.upload(images.jpeg((200, 200))[:400])
    assert response.status_code == 400
    assert nothing_stored()


def test_bad_base64_is_400(client, api_key):
    response = client.http.post(
        "/2/upload.json",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=f"key={api_key}&type=base64&image=%25%25%25not-base64!!".encode(),
    )
    assert response.status_code == 400
    assert "base64" in json.loads(response.body)["error"]["message"]


def test_file_over_the_size_limit_is_413(api, monkeypatch):
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "2048")
    bootstrap.reset()
    response = api.upload(images.make("BMP", (100, 100)))
    assert response.status_code == 413
    assert nothing_stored()


def test_body_over_the_limit_is_413_before_parsing(client, api_key, monkeypatch):
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "2048")
    bootstrap.reset()
    response = client.http.post(
        f"/2/upload.json?key={api_key}",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
        body=b"x" * 100_000,
    )
    assert response.status_code == 413


def test_over_the_pixel_limit_is_400(api, monkeypatch):
    monkeypatch.setenv("MAX_PIXELS", "1000")
    bootstrap.reset()
    response = api.upload(images.png((100, 100)))
    assert response.status_code == 400
    assert nothing_stored()


def test_stored_original_has_no_metadata(api):
    image = api.upload_ok(images.jpeg_with_gps())["image"]
    stored = bootstrap.image_store().get(f"i/{image['hash']}.jpg")
    assert b"Exif" not in stored
    assert b"TestCam" not in stored


def test_orientation_is_applied(api):
    image = api.upload_ok(images.jpeg_with_gps((80, 40), orientation=6))["image"]
    assert (image["width"], image["height"]) == (40, 80)


@pytest.mark.parametrize(
    ("maker", "mime"),
    [
        (lambda: images.make("TIFF", (30, 20)), "image/png"),
        (lambda: images.make("BMP", (30, 20)), "image/png"),
        (lambda: images.make("PDF", (30, 20)), "image/png"),
        (lambda: images.make("GIF", (30, 20), mode="P", color=3), "image/gif"),
    ],
    ids=["tiff", "bmp", "pdf", "gif"],
)
def test_other_formats_are_stored_as_the_contract_says(api, maker, mime):
    image = api.upload_ok(maker())["image"]
    assert image["type"] == mime
    ext = mime.split("/")[1]
    assert stored_keys() == [f"i/{image['hash']}.{ext}"]


def test_apng_and_xcf_through_the_api(api):
    from PIL import Image

    from tests.unit import test_imaging_samples as samples

    apng = api.upload_ok(samples.apng())["image"]
    assert (apng["type"], apng["animated"]) == ("image/png", "true")
    layer = Image.new("RGBA", (40, 30), (0, 128, 255, 255))
    xcf = api.upload_ok(samples.xcf((40, 30), [(layer, 0, 0)]))["image"]
    assert (xcf["type"], xcf["width"], xcf["height"], xcf["animated"]) == ("image/png", 40, 30, "false")
