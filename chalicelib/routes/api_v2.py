"""The anonymous /2/ resources: each parses its call, asks one service, and returns what to render."""

from __future__ import annotations

from typing import Any

from chalicelib.calls import Call
from chalicelib.config import Settings
from chalicelib.errors import MissingParameter
from chalicelib.routes.v2 import Redirect, api
from chalicelib.services import access, images, stats, uploads
from chalicelib.services.access import Auth


@api.resource("credits", root="credits", cost=0)
def credits(call: Call) -> dict[str, Any]:
    assert call.quota is not None  # cost 0: the dispatcher's peek is the answer
    quota = call.quota
    return {
        "limit": quota.limit,
        "remaining": quota.remaining,
        "reset": quota.reset,
        "refresh_in_secs": max(0, quota.reset - int(access.now())),
    }


def upload_cost(settings: Settings) -> int:
    return settings.upload_cost


@api.resource("upload", root="upload", methods=("POST", "PUT"), cost=upload_cost, auth=Auth.KEY)
def upload(call: Call) -> dict[str, Any]:
    assert call.caller is not None
    image = uploads.upload(call.params, owner=call.caller.account)
    return images.image_object(image, owner_view=True)


@api.resource("upload", root="upload", methods=("GET",), cost=upload_cost, auth=Auth.OPTIONAL)
def side_load(call: Call) -> Redirect:
    """GET /2/upload?url=: a browser side-load; uploads the URL and opens the new image page.

    A GET can be triggered by any page a signed-in visitor opens, so only a signed (OAuth) call
    uploads into an account; with a session cookie the side-load stays anonymous.
    """
    assert call.caller is not None
    url = call.params.get("url", fits=uploads.is_url) or call.params.get("image", fits=uploads.is_url)
    if url is None:
        raise MissingParameter("url")
    call.params.values["image"] = [url]
    call.params.values["type"] = ["url"]
    owner = call.caller.account if call.caller.via == "oauth" else None
    image = uploads.upload(call.params, owner=owner)
    return Redirect(images.page_url(image.hash))


@api.resource("image/{name}", root="image")
def image_info(call: Call, name: str) -> dict[str, Any]:
    image = images.get(name)
    owner = call.caller is not None and call.caller.account is not None and call.caller.account == image.owner
    return images.image_object(image, owner_view=owner)


@api.resource("delete/{name}", root="delete", methods=("GET", "POST", "DELETE"))
def delete(call: Call, name: str) -> dict[str, str]:
    return images.delete(name)


@api.resource("stats", root="stats")
def site_stats(call: Call) -> dict[str, Any]:
    return stats.report(call.params.get("view"))
