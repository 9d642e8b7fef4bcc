"""The authenticated /2/ resources (OAuth-signed or the session cookie) and cookie sign-in."""

from __future__ import annotations

from typing import Any

from chalicelib import bootstrap
from chalicelib.auth.identify import foreign_origin
from chalicelib.calls import Call
from chalicelib.errors import Forbidden, MissingParameter, NotFound
from chalicelib.records import ImageRecord
from chalicelib.records.accounts import Account
from chalicelib.routes.api_v2 import upload_cost
from chalicelib.routes.v2 import api
from chalicelib.services import accounts, images, uploads
from chalicelib.services.access import Auth


def _account(call: Call) -> Account:
    assert call.caller is not None and call.caller.account is not None  # Auth.ACCOUNT saw to it
    account = bootstrap.accounts().account(call.caller.account)
    if account is None:
        raise NotFound("No such account")
    return account


def _owned_image(call: Call, name: str) -> ImageRecord:
    """The caller's image; another's is as unknown as a missing one."""
    assert call.caller is not None
    image = images.get(name)
    if image.owner != call.caller.account:
        raise NotFound("Unable to find an image with the id, " + name[:32])
    return image


@api.resource("account", root="account", methods=("GET", "POST"), auth=Auth.ACCOUNT)
def account(call: Call) -> dict[str, str]:
    current = _account(call)
    if call.method == "POST":
        current = accounts.update_settings(
            current, call.params.get("default_album_privacy"), call.params.get("public_images")
        )
    return accounts.account_object(current)


@api.resource("account/images", root="images", methods=("POST",), cost=upload_cost, auth=Auth.ACCOUNT)
def upload_into_account(call: Call) -> dict[str, Any]:
    assert call.caller is not None
    image = uploads.upload(call.params, owner=call.caller.account)
    return images.image_object(image, owner_view=True)


@api.resource("account/images/{name}", root="images", methods=("GET",), auth=Auth.ACCOUNT)
def account_image(call: Call, name: str) -> dict[str, Any]:
    return images.image_object(_owned_image(call, name), owner_view=True)


@api.resource("account/images/{name}", root="images", methods=("DELETE",), auth=Auth.ACCOUNT)
def delete_account_image(call: Call, name: str) -> dict[str, str]:
    assert call.caller is not None
    image = images.get(name)  # 404 when unknown: clients treat other 4xx codes as fatal
    if image.owner != call.caller.account:
        raise Forbidden("This image belongs to another account")
    return images.delete(image.deletehash)


@api.resource("signin", root="signin", methods=("POST",), cost=0)
def signin(call: Call) -> dict[str, str]:
    """Form `username` and `password`; the reply sets the IMGURSESSION cookie."""
    if foreign_origin(call.headers):  # no signing a browser into someone's account from elsewhere
        raise Forbidden("Cross-site sign-in is refused")
    name, password = call.params.get("username"), call.params.get("password")
    if name is None:
        raise MissingParameter("username")
    if password is None:
        raise MissingParameter("password")
    signed_in, token = accounts.sign_in(name, password, call.source_ip)
    call.extra_headers["Set-Cookie"] = accounts.session_cookie(token)
    return {"message": "Success", "url": signed_in.name}
