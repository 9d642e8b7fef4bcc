"""Who is calling and what it costs: caller identification and credit charging for /2/ calls."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum

from chalicelib import bootstrap
from chalicelib.calls import Call, Caller
from chalicelib.credits import Quota
from chalicelib.errors import InvalidKey, Unauthorized


class Auth(Enum):
    OPTIONAL = "optional"  # key, account or nobody (charged to the source IP)
    KEY = "key"  # an application key, the site's own form, or an account
    ACCOUNT = "account"  # OAuth-signed or a session


# Extra identification schemes (OAuth, session cookie) register here; each returns a Caller for
# calls it recognises and None otherwise, and raises Unauthorized for a bad credential.
Identifier = Callable[[Call], Caller | None]
_identifiers: list[Identifier] = []

KEY_CACHE_SECONDS = 300


def register_identifier(identifier: Identifier) -> None:
    if identifier not in _identifiers:
        _identifiers.append(identifier)


def identify(call: Call, auth: Auth) -> Caller:
    settings = bootstrap.settings()
    for identifier in _identifiers:
        caller = identifier(call)
        if caller is not None:
            return caller
    if auth is Auth.ACCOUNT:
        raise Unauthorized("Authentication required")
    key = call.params.get("key")
    if key is not None:
        if not key_is_valid(key):
            raise InvalidKey()
        return Caller(bucket=f"anon:{key}", limit=settings.credits_anon_per_hour, consumer_key=key, via="key")
    if auth is Auth.KEY:
        raise Unauthorized("No API key was provided")
    return ip_caller(call.source_ip)


def ip_caller(source_ip: str) -> Caller:
    return Caller(bucket=f"ip:{source_ip}", limit=bootstrap.settings().credits_anon_per_hour)


def key_is_valid(key: str) -> bool:
    """Application keys are remembered in the warm container for a few minutes (one read each)."""
    key_cache: dict[str, tuple[bool, float]] = bootstrap.provide("key_cache", dict)
    now = time.monotonic()
    cached = key_cache.get(key)
    if cached is not None and now - cached[1] < KEY_CACHE_SECONDS:
        return cached[0]
    valid = len(key) <= 64 and bootstrap.records().application_for_key(key) is not None
    if len(key_cache) > 10_000:
        key_cache.clear()
    key_cache[key] = (valid, now)
    return valid


def charge(caller: Caller, cost: int) -> Quota:
    return bootstrap.credit_ledger().charge(caller.bucket, cost, caller.limit)


def peek(caller: Caller) -> Quota:
    return bootstrap.credit_ledger().charge(caller.bucket, 0, caller.limit)


def now() -> float:
    return bootstrap.clock()()
