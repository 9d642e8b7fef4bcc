"""Media links and image pages: /<hash>.<ext>, /<hash><size>.jpg, /<hash>, /delete/<deletehash>."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib import pages
from chalicelib.errors import ImgshelfError, NotFound
from chalicelib.services import images

bp = Blueprint(__name__)

HASH_LENGTH = 7
MEDIA_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}


@bp.route("/{name}", methods=["GET", "HEAD"])
def media_or_page(name: str) -> Response:
    method = bp.current_request.method.upper()
    stem, dot, ext = name.partition(".")
    try:
        if not dot:
            return _image_page(stem)
        if len(stem) == HASH_LENGTH:
            location = images.original_redirect(stem, count_view=method == "GET")
        elif len(stem) == HASH_LENGTH + 1 and stem[-1] in images.THUMBNAILS.values() and ext == "jpg":
            location = images.thumbnail_redirect(stem[:-1], stem[-1])
        else:
            raise NotFound("Image not found")
    except ImgshelfError as error:
        return _error_page(error)
    return Response(body="", status_code=302, headers={**MEDIA_HEADERS, "Location": location})


FORM_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data", "application/json"]


@bp.route("/delete/{deletehash}", methods=["GET", "POST"], content_types=FORM_TYPES)
def delete_page(deletehash: str) -> Response:
    deleted = False
    if bp.current_request.method.upper() == "POST":
        try:
            images.delete(deletehash)
        except ImgshelfError as error:
            return _error_page(error)
        deleted = True
    body = pages.render_page("delete.html", deleted=deleted)
    return Response(body=body, status_code=200, headers=pages.SECURITY_HEADERS)


def _image_page(image_hash: str) -> Response:
    image = images.get(image_hash)
    view = images.image_object(image)
    body = pages.render_page("image.html", image=image, links=view["links"])
    return Response(body=body, status_code=200, headers=pages.SECURITY_HEADERS)


def _error_page(error: ImgshelfError) -> Response:
    status = error.status if error.status != 400 else 404
    body = pages.render_page("not_found.html", message=error.message)
    return Response(body=body, status_code=status, headers=pages.SECURITY_HEADERS)
