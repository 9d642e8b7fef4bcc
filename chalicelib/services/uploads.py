"""Uploads: an image from a file, base64 text, a URL or a raw body, stored once and never half."""

from __future__ import annotations

import base64
import binascii
import logging
import re
import secrets
import string
from dataclasses import dataclass

from chalicelib import bootstrap
from chalicelib.errors import BadRequest, MissingParameter, PayloadTooLarge, ServiceUnavailable, UploadFailed
from chalicelib.forms import Params
from chalicelib.records import Collision, ImageRecord

log = logging.getLogger("imgshelf.uploads")

ALPHABET = string.ascii_letters + string.digits
HASH_LENGTH = 7
DELETEHASH_LENGTH = 15
ATTEMPTS = 4
TEXT_LIMIT = 1024
_BASE64_TEXT = re.compile(rb"^[A-Za-z0-9+/=_\-\s]+$")
_DATA_URI = re.compile(r"^data:[\w.+-]+/[\w.+-]+(;[\w=.+-]+)*;base64,", re.IGNORECASE)


@dataclass(frozen=True)
class Source:
    data: bytes
    filename: str | None


def random_id(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def is_url(value: str) -> bool:
    return value.lower().startswith(("http://", "https://"))


def upload(params: Params, *, owner: str | None = None) -> ImageRecord:
    """Read, validate, convert and store one image; the caller has already been charged."""
    from chalicelib import imaging  # Pillow and friends load only when an upload needs them

    settings = bootstrap.settings()
    source = read_source(params)
    if len(source.data) > settings.max_upload_bytes:
        raise PayloadTooLarge()
    prepared = imaging.prepare(source.data, max_pixels=settings.max_pixels)
    return store(
        prepared,
        title=_text(params.get("title")),
        caption=_text(params.get("caption") or params.get("description")),
        name=_text(params.get("name")) or source.filename,
        owner=owner,
    )


def read_source(params: Params) -> Source:
    """The image bytes, whichever way the client sent them; `type` is a hint, content decides."""
    kind = (params.get("type") or "").lower()
    upload = params.file("image") or next((files[-1] for files in params.files.values() if files), None)
    if upload is not None and upload.data:
        return Source(upload.data, upload.filename)
    value = params.get("image", fits=is_url if kind == "url" else None)
    if value is None and params.raw_body:
        return _raw_body(params)
    if value is None:
        raise MissingParameter("image")
    if is_url(value):
        return _side_load(value)
    if kind == "url":
        raise BadRequest("Invalid URL")
    return Source(decode_base64(value), None)


def decode_base64(text: str | bytes) -> bytes:
    raw = text.decode("ascii", "replace") if isinstance(text, bytes) else text
    raw = _DATA_URI.sub("", raw.strip(), count=1)
    compact = "".join(raw.split())  # clients wrap base64 at 60 or 76 characters
    limit = bootstrap.settings().max_upload_bytes
    if len(compact) * 3 // 4 > limit:
        raise PayloadTooLarge()
    compact = compact.replace("-", "+").replace("_", "/")  # the URL-safe alphabet too
    compact += "=" * (-len(compact) % 4)
    try:
        data = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("Image is not valid base64 data") from None
    if not data:
        raise MissingParameter("image")
    return data


def _raw_body(params: Params) -> Source:
    """A raw body is base64 text when it is nothing but base64 characters; binary otherwise."""
    body = params.raw_body
    if _BASE64_TEXT.match(body):
        return Source(decode_base64(body), None)
    return Source(body, None)


def _side_load(url: str) -> Source:
    from chalicelib import sideload

    settings = bootstrap.settings()
    fetched = sideload.fetch(
        url, max_bytes=settings.max_upload_bytes, allow_hosts=settings.sideload_allow_hosts
    )
    return Source(fetched.data, fetched.filename)


def _text(value: str | None) -> str | None:
    return value[:TEXT_LIMIT] if value else None


def store(
    prepared: object, *, title: str | None, caption: str | None, name: str | None, owner: str | None
) -> ImageRecord:
    """Object first, then the records; a failure in between removes the object again.

    The object's key is written with If-None-Match, so a hash collision can never overwrite
    another image; the records transaction detects a collision of the hash or deletehash.
    """
    from chalicelib.imaging import PreparedImage

    assert isinstance(prepared, PreparedImage)
    store_ = bootstrap.image_store()
    records = bootstrap.records()
    now = int(bootstrap.clock()())
    new_id = bootstrap.provide("new_id", lambda: random_id)  # tests inject ids to force collisions
    for _ in range(ATTEMPTS):
        image = ImageRecord(
            hash=new_id(HASH_LENGTH),
            deletehash=new_id(DELETEHASH_LENGTH),
            ext=prepared.ext,
            mime=prepared.mime,
            width=prepared.width,
            height=prepared.height,
            size=len(prepared.data),
            animated=prepared.animated,
            created=now,
            title=title,
            caption=caption,
            name=name,
            owner=owner,
        )
        try:
            store_.put_original(image.hash, image.ext, prepared.data, image.mime)
        except Collision:
            continue
        try:
            records.create_image(image)
            return image
        except Collision:
            _remove(image)
            continue
        except ServiceUnavailable:
            _remove(image)
            raise
        except Exception as error:
            _remove(image)
            log.exception("records write failed for %s; object removed", image.hash)
            raise UploadFailed() from error
    raise UploadFailed()


def _remove(image: ImageRecord) -> None:
    try:
        bootstrap.image_store().delete_original(image.hash, image.ext)
    except Exception:  # best effort: without a record the object is unreachable anyway
        log.exception("could not remove orphan original %s.%s", image.hash, image.ext)
