"""The /2/ API resources: each parses its call, asks one service, and returns what to render."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.calls import Call
from chalicelib.routes.v2 import V2Api
from chalicelib.services import access

bp = Blueprint(__name__)
api = V2Api(bp)


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


api.mount()
