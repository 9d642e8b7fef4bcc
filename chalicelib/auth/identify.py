"""Who signed a /2/ call: an OAuth 1.0a signature or the IMGURSESSION cookie (registered on import)."""

from __future__ import annotations

from urllib.parse import urlsplit

from chalicelib import bootstrap
from chalicelib.calls import Call, Caller
from chalicelib.errors import Forbidden
from chalicelib.services import access, accounts

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
OAUTH_MARKERS = ("oauth_signature", "oauth_consumer_key")


def is_signed(call: Call) -> bool:
    if call.headers.get("authorization", "")[:6].lower() == "oauth ":
        return True
    return any(name in call.params.values for name in OAUTH_MARKERS)


def oauth_caller(call: Call) -> Caller | None:
    if not is_signed(call):
        return None
    from chalicelib.auth import oauth  # oauthlib loads only for signed calls

    signed = oauth.SignedRequest(call.method, call.path, call.query, call.headers, call.body)
    verified = oauth.verify_resource(signed)  # Unauthorized for a bad signature, token or nonce
    account = verified.account
    return Caller(
        bucket=f"user:{verified.consumer_key}:{account.name}",
        limit=accounts.limit_for(account),
        account=account.name,
        consumer_key=verified.consumer_key,
        via="oauth",
    )


def foreign_origin(headers: dict[str, str]) -> bool:
    """True when the request names an Origin other than PUBLIC_BASE_URL's (absent: not a browser form)."""
    origin = headers.get("origin")
    if origin is None:
        return False
    public = urlsplit(bootstrap.settings().public_base_url)
    return origin.strip().rstrip("/").lower() != f"{public.scheme}://{public.netloc}".lower()


def session_caller(call: Call) -> Caller | None:
    token = call.cookie(accounts.SESSION_COOKIE)
    if not token:
        return None
    # SameSite=Lax keeps the cookie off most cross-site posts; this catches the rest.
    if call.method in STATE_CHANGING and foreign_origin(call.headers):
        raise Forbidden("Cross-site requests with a session cookie are refused")
    account = accounts.session_account(token)
    if account is None:  # expired or signed out: as if there were no cookie
        return None
    return Caller(
        bucket=f"user:web:{account.name}",
        limit=accounts.limit_for(account),
        account=account.name,
        via="session",
    )


access.register_identifier(oauth_caller)
access.register_identifier(session_caller)
