"""The OAuth 1.0a provider: oauthlib's endpoints over the accounts records, base URL fixed by settings."""

from __future__ import annotations

import hmac
import secrets
import string
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from oauthlib.oauth1 import (
    SIGNATURE_HMAC_SHA1,
    SIGNATURE_HMAC_SHA256,
    AccessTokenEndpoint,
    AuthorizationEndpoint,
    RequestTokenEndpoint,
    RequestValidator,
    ResourceEndpoint,
)
from oauthlib.oauth1.rfc5849 import errors as oauth_errors

from chalicelib import bootstrap
from chalicelib.errors import Unauthorized
from chalicelib.records import Application
from chalicelib.records.accounts import AccessToken, Account, RequestToken

TIMESTAMP_WINDOW = 600
REQUEST_TOKEN_SECONDS = 3600
TOKEN_LENGTH = 40  # hex characters, for tokens and their secrets
VERIFIER_LENGTH = 12
VERIFIER_ALPHABET = string.ascii_letters + string.digits
FORM_TYPE = "application/x-www-form-urlencoded"
# Secrets for oauthlib's dummy client and tokens: unknown to anyone, so a dummy never verifies.
_DUMMY_SECRET = secrets.token_hex(16)
DUMMY_ACCOUNT = "#dummy"  # '#' cannot occur in a user name


def new_token() -> str:
    return secrets.token_hex(TOKEN_LENGTH // 2)


def new_verifier() -> str:
    return "".join(secrets.choice(VERIFIER_ALPHABET) for _ in range(VERIFIER_LENGTH))


@dataclass(frozen=True)
class SignedRequest:
    """What a signature covers: method, path, query pairs, the OAuth header and a form body."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    def oauthlib_args(self) -> tuple[str, str, str, dict[str, str]]:
        # The base URL is PUBLIC_BASE_URL, never Host or X-Forwarded-*: a client signs the public URL.
        uri = bootstrap.settings().public_base_url + self.path
        if self.query:
            uri += "?" + urlencode(self.query, quote_via=quote)
        headers: dict[str, str] = {}
        authorization = self.headers.get("authorization", "")
        if authorization[:6].lower() == "oauth ":  # other schemes would make oauthlib raise
            headers["Authorization"] = authorization
        body = ""
        # A body counts toward the signature only when it is urlencoded (never multipart).
        if self.headers.get("content-type", "").split(";")[0].strip().lower() == FORM_TYPE:
            headers["Content-Type"] = FORM_TYPE
            body = self.body.decode("utf-8", "replace")
        return uri, self.method.upper(), body, headers


@dataclass(frozen=True)
class Reply:
    status: int
    body: str


@dataclass(frozen=True)
class Verified:
    account: Account
    consumer_key: str


@dataclass(frozen=True)
class Pending:
    token: RequestToken
    app: Application


@dataclass(frozen=True)
class Approval:
    verifier: str
    redirect: str | None  # None for oob: show the verifier as a PIN


def callback_allowed(registered: str, candidate: str) -> bool:
    """`oob`, or a URL on the registered callback's scheme and host, at or below its path."""
    if candidate == "oob":
        return True
    reg, cand = urlsplit(registered), urlsplit(candidate)
    if reg.scheme not in ("http", "https") or cand.scheme != reg.scheme or not reg.netloc:
        return False
    if cand.netloc.lower() != reg.netloc.lower() or "@" in cand.netloc or cand.fragment:
        return False
    if "/../" in cand.path + "/" or "/./" in cand.path + "/":
        return False
    base = reg.path.rstrip("/")
    return cand.path.rstrip("/") == base or cand.path.startswith(base + "/")


class Validator(RequestValidator):
    """oauthlib's storage and policy hooks for one request.

    The application and the token are read together (one BatchGetItem) whether or not either
    exists, and unknown ones fall back to in-memory dummies: a forged consumer key or token
    costs exactly the AWS calls of a real one.
    """

    def __init__(self, kind: str | None = None, approver: str | None = None) -> None:
        super().__init__()
        self.kind = kind  # "request" (access-token step), "access" (resources), None (request token)
        self.approver = approver
        self.app: Application | None = None
        self.token: RequestToken | AccessToken | None = None
        self.looked_up = False
        self._records = bootstrap.accounts()

    # Policy ----------------------------------------------------------------------------------
    allowed_signature_methods = (SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256)  # never PLAINTEXT
    enforce_ssl = False  # the scheme is PUBLIC_BASE_URL's; the request's own says nothing
    safe_characters: ClassVar[set[str]] = set(string.ascii_letters + string.digits + "-._~+/=")
    client_key_length = (16, 64)
    request_token_length = (TOKEN_LENGTH, TOKEN_LENGTH)
    access_token_length = (TOKEN_LENGTH, TOKEN_LENGTH)
    nonce_length = (4, 128)
    verifier_length = (VERIFIER_LENGTH, VERIFIER_LENGTH)
    # oauthlib compares timestamps with time.time(); validate_timestamp_and_nonce uses the app's clock.
    timestamp_lifetime = 10**10
    dummy_client = "dummy-client"
    dummy_request_token = "dummy-token"  # noqa: S105 - an identifier, not a secret
    dummy_access_token = "dummy-token"  # noqa: S105

    # Realms are not used: clients send them (or not) in many shapes, none restricts anything.
    def check_realms(self, realms: Any) -> bool:
        return True

    def get_default_realms(self, client_key: str, request: Any) -> list[str]:
        return []

    def get_realms(self, token: str, request: Any) -> list[str]:
        return []

    def validate_requested_realms(self, client_key: str, realms: Any, request: Any) -> bool:
        return True

    def validate_realms(self, *args: Any, **kwargs: Any) -> bool:
        return True

    def verify_realms(self, token: str, realms: Any, request: Any) -> bool:
        return True

    def _now(self) -> int:
        return int(bootstrap.clock()())

    # Signed requests ----------------------------------------------------------------------
    def validate_timestamp_and_nonce(  # noqa: PLR0917 - oauthlib's signature
        self,
        client_key: str,
        timestamp: str,
        nonce: str,
        request: Any,
        request_token: str | None = None,
        access_token: str | None = None,
    ) -> bool:
        now, stamp = self._now(), int(timestamp)
        if abs(now - stamp) > TIMESTAMP_WINDOW:
            return False
        token = request_token or access_token or ""
        # Kept until no request with this timestamp can be accepted any more.
        return self._records.use_nonce(
            client_key, token, timestamp, nonce, max(now, stamp) + TIMESTAMP_WINDOW
        )

    def validate_client_key(self, client_key: str, request: Any) -> bool:
        token = request.resource_owner_key
        if self.kind and token:
            self.app, self.token = self._records.application_and_token(client_key, token, self.kind)
        else:
            self.app = self._records.application(client_key)
        self.looked_up = True
        return self.app is not None and not self.app.revoked

    def get_client_secret(self, client_key: str, request: Any) -> str:
        app = self.app
        if app is not None and not app.revoked and hmac.compare_digest(app.consumer_key, client_key):
            return app.consumer_secret
        return _DUMMY_SECRET

    def _token_of(self, cls: type, client_key: str, token: str) -> Any:
        found = self.token
        if found is None or not isinstance(found, cls) or not hmac.compare_digest(found.token, token):
            return None
        return found if hmac.compare_digest(found.consumer_key, client_key) else None

    def validate_request_token(self, client_key: str, token: str, request: Any) -> bool:
        found = self._token_of(RequestToken, client_key, token)
        return found is not None and found.expires_at > self._now()

    def get_request_token_secret(self, client_key: str, token: str, request: Any) -> str:
        found = self._token_of(RequestToken, client_key, token)
        return found.secret if found is not None else _DUMMY_SECRET

    def validate_verifier(self, client_key: str, token: str, verifier: str, request: Any) -> bool:
        found = self._token_of(RequestToken, client_key, token)
        expected = found.verifier if found is not None and found.account else None
        return hmac.compare_digest(expected or "\0" * VERIFIER_LENGTH, verifier) and expected is not None

    def validate_access_token(self, client_key: str, token: str, request: Any) -> bool:
        return self._token_of(AccessToken, client_key, token) is not None

    def get_access_token_secret(self, client_key: str, token: str, request: Any) -> str:
        found = self._token_of(AccessToken, client_key, token)
        return found.secret if found is not None else _DUMMY_SECRET

    def validate_redirect_uri(self, client_key: str, redirect_uri: str, request: Any) -> bool:
        registered = self.app.callback if self.app is not None else "oob"
        return callback_allowed(registered, redirect_uri)

    # Saving ----------------------------------------------------------------------------------
    def save_request_token(self, token: dict[str, str], request: Any) -> None:
        now = self._now()
        self._records.put_request_token(
            RequestToken(
                token=token["oauth_token"],
                secret=token["oauth_token_secret"],
                consumer_key=request.client_key,
                callback=request.redirect_uri,
                created=now,
                expires_at=now + REQUEST_TOKEN_SECONDS,
            )
        )

    def save_access_token(self, token: dict[str, str], request: Any) -> None:
        pending = self.token
        assert isinstance(pending, RequestToken) and pending.account  # validated just before
        access = AccessToken(
            token=token["oauth_token"],
            secret=token["oauth_token_secret"],
            consumer_key=request.client_key,
            account=pending.account,
            created=self._now(),
        )
        # The request token is consumed in the same transaction: two racing exchanges get one token.
        if not self._records.exchange_request_token(pending.token, request.verifier, access):
            raise oauth_errors.InvalidClientError(description="The request token was used already.")

    def invalidate_request_token(self, client_key: str, request_token: str, request: Any) -> None:
        """Nothing left to do: save_access_token consumed the token atomically."""

    # The approval page ---------------------------------------------------------------------------
    def verify_request_token(self, token: str, request: Any) -> bool:
        found = self._records.request_token(token)
        self.token = found
        return found is not None and found.verifier is None and found.expires_at > self._now()

    def save_verifier(self, token: str, verifier: dict[str, str], request: Any) -> None:
        if not self.approver or not self._records.authorize_request_token(
            token, self.approver, verifier["oauth_verifier"]
        ):
            raise oauth_errors.InvalidClientError(description="The request token cannot be authorized.")

    def get_redirect_uri(self, token: str, request: Any) -> str:
        assert self.token is not None
        return self.token.callback if isinstance(self.token, RequestToken) else "oob"


class _RequestTokenEndpoint(RequestTokenEndpoint):
    def _create_request(self, *args: Any, **kwargs: Any) -> Any:
        request = super()._create_request(*args, **kwargs)
        # Many v2 clients send no oauth_callback at all: that means out of band. The signature
        # is computed from the parameters actually sent, so this changes nothing there.
        request.redirect_uri = request.redirect_uri or "oob"
        return request


def _reply(status: int, body: str | None) -> Reply:
    """Every failure is a 401 (missing or bad credentials), form-encoded like the successes."""
    if status == 200 and body:
        return Reply(200, body)
    return Reply(401, body or urlencode({"error": "invalid_credentials"}))


def request_token(request: SignedRequest) -> Reply:
    """POST|GET /oauth/request_token: a temporary token for a signed consumer."""
    endpoint = _RequestTokenEndpoint(Validator(), token_generator=new_token)
    try:
        _, body, status = endpoint.create_request_token_response(*request.oauthlib_args())
    except ValueError:  # a malformed Authorization header or body
        return _reply(401, None)
    return _reply(status, body)


def access_token(request: SignedRequest) -> Reply:
    """POST|GET /oauth/access_token: trade an authorized request token and verifier for a permanent token."""
    endpoint = AccessTokenEndpoint(Validator(kind="request"), token_generator=new_token)
    try:
        _, body, status = endpoint.create_access_token_response(*request.oauthlib_args())
    except ValueError:
        return _reply(401, None)
    return _reply(status, body)


def verify_resource(request: SignedRequest) -> Verified:
    """The account and consumer of a signed /2/ call; Unauthorized for anything else."""
    validator = Validator(kind="access")
    try:
        valid, checked = ResourceEndpoint(validator).validate_protected_resource_request(
            *request.oauthlib_args()
        )
    except ValueError:
        valid, checked = False, None
    if not validator.looked_up:
        raise Unauthorized("Invalid OAuth request")
    token = validator.token if valid else None
    account_name = token.account if isinstance(token, AccessToken) else DUMMY_ACCOUNT
    account = bootstrap.accounts().account(account_name)  # read for dummies too: same cost either way
    if not valid or account is None or checked is None:
        raise Unauthorized("Invalid OAuth signature or token")
    return Verified(account=account, consumer_key=str(checked.client_key))


def pending(token: str) -> Pending | None:
    """The request token waiting for approval and its application, or None."""
    records = bootstrap.accounts()
    found = records.request_token(token) if 0 < len(token) <= 64 else None
    if found is None or found.verifier is not None or found.expires_at <= int(bootstrap.clock()()):
        return None
    app = records.application(found.consumer_key)
    if app is None or app.revoked:
        return None
    return Pending(found, app)


def approve(token: str, account: str) -> Approval:
    """The user allows access: a verifier, and where to send the browser (None for oob)."""
    endpoint = AuthorizationEndpoint(Validator(approver=account), token_generator=new_verifier)
    uri = bootstrap.settings().public_base_url + "/oauth/authorize?" + urlencode({"oauth_token": token})
    try:
        headers, body, status = endpoint.create_authorization_response(uri, http_method="GET")
    except oauth_errors.OAuth1Error as error:
        raise Unauthorized("This authorization request has expired or was used already") from error
    if status == 302:
        location = str(headers["Location"])
        verifier = dict(parse_qsl(urlsplit(location).query))["oauth_verifier"]
        return Approval(verifier, location)
    return Approval(dict(parse_qsl(body))["oauth_verifier"], None)


def deny(token: str) -> None:
    """The user refuses: the request token is gone, no verifier exists."""
    bootstrap.accounts().delete_request_token(token)
