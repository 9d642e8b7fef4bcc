"""Images: the v2 image object, reading, deleting, and where media links lead."""

from __future__ import annotations

import time

from chalicelib import bootstrap
from chalicelib.errors import BadRequest, NotFound
from chalicelib.records import Collision, ImageRecord
from chalicelib.storage import original_key, thumbnail_key

THUMBNAILS = {
    "small_square": "s",
    "big_square": "b",
    "small_thumbnail": "t",
    "medium_thumbnail": "m",
    "large_thumbnail": "l",
    "huge_thumbnail": "h",
}


def v2_datetime(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))


def image_object(image: ImageRecord, *, owner_view: bool = False) -> dict[str, object]:
    """The v2 image object; name, deletehash and delete_page only for the uploader or owner."""
    settings = bootstrap.settings()
    media, public = settings.media_base, settings.public_base_url
    fields: dict[str, object] = {}
    if owner_view:
        fields["name"] = image.name
    fields.update(
        {
            "title": image.title,
            "caption": image.caption,
            "hash": image.hash,
        }
    )
    if owner_view:
        fields["deletehash"] = image.deletehash
    fields.update(
        {
            "datetime": v2_datetime(image.created),
            "type": image.mime,
            "animated": "true" if image.animated else "false",
            "width": image.width,
            "height": image.height,
            "size": image.size,
            "views": image.views,
            "bandwidth": image.views * image.size,
        }
    )
    links: dict[str, object] = {
        "original": f"{media}/{image.hash}.{image.ext}",
        "imgur_page": f"{public}/{image.hash}",
    }
    if owner_view:
        links["delete_page"] = f"{public}/delete/{image.deletehash}"
    links.update({name: f"{media}/{image.hash}{suffix}.jpg" for name, suffix in THUMBNAILS.items()})
    return {"image": fields, "links": links}


def page_url(image_hash: str) -> str:
    return f"{bootstrap.settings().public_base_url}/{image_hash}"


def get(image_hash: str) -> ImageRecord:
    image = bootstrap.records().image(image_hash) if _plausible_hash(image_hash) else None
    if image is None:
        raise NotFound("Unable to find an image with the id, " + image_hash[:32])
    return image


def delete(deletehash: str) -> dict[str, str]:
    """Tombstone the record (the image is gone for everyone), remove the objects, then the pointer.

    Each step can be repeated, so if removing the objects fails the caller gets a 500 and the
    same deletehash finishes the job on a retry; only then does it become invalid.
    """
    records = bootstrap.records()
    found = records.image_for_deletehash(deletehash) if _plausible_hash(deletehash, 40) else None
    if found is None:
        raise BadRequest("Invalid deletehash")
    image_hash, ext = found
    try:
        records.delete_image(image_hash, deletehash, ext)
    except Collision:
        raise BadRequest("Invalid deletehash") from None
    bootstrap.image_store().delete_image(image_hash, ext)
    records.drop_deletehash(deletehash)
    return {"message": "Success"}


def original_redirect(image_hash: str, *, count_view: bool) -> str:
    """Where /<hash>.<ext> leads: one write (the view counter) and no read before it."""
    records = bootstrap.records()
    image = records.count_view(image_hash) if count_view else records.image(image_hash)
    if image is None:
        raise NotFound("Image not found")
    return _media_url(original_key(image.hash, image.ext), f"{image.hash}.{image.ext}")


def thumbnail_redirect(image_hash: str, suffix: str) -> str:
    """The thumbnail once it exists, the original until then."""
    image = bootstrap.records().image(image_hash)
    if image is None:
        raise NotFound("Image not found")
    if image.thumbs == "ready":
        return _media_url(thumbnail_key(image.hash, suffix), f"{image.hash}{suffix}.jpg")
    return _media_url(original_key(image.hash, image.ext), f"{image.hash}.{image.ext}")


def _media_url(key: str, public_name: str) -> str:
    """A presigned link to the object, or the media host's link in the layout of the API's links.

    MEDIA_BASE_URL serves the same names as the links the API hands out (`/<hash>.<ext>`,
    `/<hash><size>.jpg`), e.g. a CDN that maps them onto the bucket's i/ and t/ keys.
    """
    settings = bootstrap.settings()
    if settings.media_base_url:
        return f"{settings.media_base_url}/{public_name}"
    return bootstrap.image_store().presigned_url(key)


def _plausible_hash(value: str, longest: int = 16) -> bool:
    return 0 < len(value) <= longest and value.isalnum() and value.isascii()
