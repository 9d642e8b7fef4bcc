"""Signed tokens (PyJWT, HS256 only): sessions, password resets and CSRF form tokens, a key per kind."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from typing import Any

from chalicelib import bootstrap
from chalicelib.errors import ConfigError

log = logging.getLogger("imgshelf.tokens")

ALGORITHMS = ["HS256"]  # fixed: the token's own header never chooses the algorithm
REQUIRED = ["exp", "iat", "iss", "aud", "sub", "jti", "typ"]
LIFETIMES = {"session": 30 * 86400, "reset": 3600, "csrf": 12 * 3600}
CLOCK_SKEW = 60
MIN_SECRET_BYTES = 32
MAX_TOKEN_CHARS = 4096


def _load_secret() -> bytes:
    """SESSION_SECRET, or the SSM parameter it names (read once per container)."""
    settings = bootstrap.settings()
    value = settings.session_secret
    if not value and settings.session_secret_parameter:
        reply = bootstrap.client("ssm").get_parameter(
            Name=settings.session_secret_parameter, WithDecryption=True
        )
        value = str(reply["Parameter"]["Value"])
    if not value:
        if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
            # Each container would make up its own secret and sessions would fail at random.
            raise ConfigError("SESSION_SECRET or SESSION_SECRET_PARAMETER must be set when deployed")
        log.warning("no SESSION_SECRET: using a random one, sessions end when this process does")
        value = secrets.token_urlsafe(48)
    if len(value.encode("utf-8")) < MIN_SECRET_BYTES:
        raise ConfigError(f"the session secret must be at least {MIN_SECRET_BYTES} bytes long")
    return value.encode("utf-8")


def _key(kind: str) -> bytes:
    # One 32-byte key per kind, so a token of one kind can never verify as another.
    secret: bytes = bootstrap.provide("session_secret", _load_secret)
    return hmac.new(secret, f"imgshelf token key: {kind}".encode(), hashlib.sha256).digest()


def _audience(kind: str) -> str:
    return f"imgshelf:{kind}"


def issue(kind: str, subject: str, **claims: Any) -> str:
    """A signed token of `kind` for `subject`, valid for that kind's lifetime from now."""
    import jwt

    now = int(bootstrap.clock()())
    payload = {
        **claims,
        "iss": bootstrap.settings().public_base_url,
        "aud": _audience(kind),
        "sub": subject,
        "typ": kind,
        "iat": now,
        "exp": now + LIFETIMES[kind],
        "jti": secrets.token_urlsafe(16),
    }
    return jwt.encode(payload, _key(kind), algorithm=ALGORITHMS[0], headers={"typ": "JWT"})


def read(kind: str, token: str) -> dict[str, Any] | None:
    """The claims of a valid, unexpired token of `kind`; None for anything else."""
    import jwt

    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            _key(kind),
            algorithms=ALGORITHMS,
            audience=_audience(kind),
            issuer=bootstrap.settings().public_base_url,
            # Times are checked below against the app's clock (injected in tests), not PyJWT's.
            options={"require": REQUIRED, "verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.PyJWTError:
        return None
    now = bootstrap.clock()()
    issued, expires = payload.get("iat"), payload.get("exp")
    if not isinstance(issued, int) or not isinstance(expires, int):
        return None
    if payload.get("typ") != kind or not isinstance(payload.get("sub"), str):
        return None
    if issued > now + CLOCK_SKEW or expires <= now or expires - issued > LIFETIMES[kind]:
        return None
    return payload


def binding(*values: str) -> str:
    """A digest of cookie values that a CSRF token is tied to (the values themselves stay out of it)."""
    return hashlib.sha256("\n".join(values).encode("utf-8")).hexdigest()


def csrf_token(bound_to: str) -> str:
    return issue("csrf", bound_to)


def csrf_valid(token: str | None, bound_to: str) -> bool:
    claims = read("csrf", token or "")
    return claims is not None and hmac.compare_digest(str(claims["sub"]), bound_to)
