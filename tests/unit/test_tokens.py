"""Signed tokens: one algorithm, required claims, a key and audience per kind, the app's clock."""

from __future__ import annotations

import base64
import json

import jwt
import pytest

from chalicelib import bootstrap
from chalicelib.auth import tokens
from chalicelib.errors import ConfigError

SECRET = "s" * 40


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    monkeypatch.setenv("SESSION_SECRET", SECRET)
    bootstrap.reset()


def _segment(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(now: int) -> dict:
    return {
        "sub": "alice",
        "typ": "session",
        "iss": "http://imgshelf.test",
        "aud": "imgshelf:session",
        "iat": now,
        "exp": now + 60,
        "jti": "x",
    }


def test_token_round_trip_has_the_required_claims(clock):
    token = tokens.issue("session", "alice", ep=3)
    claims = tokens.read("session", token)
    assert claims["sub"] == "alice" and claims["ep"] == 3 and claims["typ"] == "session"
    assert claims["iss"] == "http://imgshelf.test" and claims["aud"] == "imgshelf:session"
    assert claims["exp"] - claims["iat"] == tokens.LIFETIMES["session"]
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_token_of_one_kind_is_refused_as_another(clock):
    session = tokens.issue("session", "alice")
    reset = tokens.issue("reset", "alice")
    assert tokens.read("reset", session) is None
    assert tokens.read("session", reset) is None
    assert tokens.read("csrf", session) is None


def test_token_expires_by_the_app_clock(clock):
    token = tokens.issue("reset", "alice")
    clock.advance(3599)
    assert tokens.read("reset", token) is not None
    clock.advance(1)
    assert tokens.read("reset", token) is None


def test_token_from_the_future_is_refused(clock):
    token = tokens.issue("session", "alice")
    clock.advance(-3600)
    assert tokens.read("session", token) is None


def test_alg_none_is_refused(clock):
    claims = _claims(int(clock()))
    forged = f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(claims)}."
    assert tokens.read("session", forged) is None


def test_token_signed_with_another_key_is_refused(clock):
    claims = _claims(int(clock()))
    assert tokens.read("session", jwt.encode(claims, SECRET, algorithm="HS256")) is None
    assert tokens.read("session", jwt.encode(claims, "k" * 64, algorithm="HS512")) is None


@pytest.mark.parametrize("missing", ["exp", "iat", "iss", "aud", "sub", "jti", "typ"])
def test_token_missing_a_required_claim_is_refused(clock, missing):
    claims = _claims(int(clock()))
    del claims[missing]
    key = tokens._key("session")
    assert tokens.read("session", jwt.encode(claims, key, algorithm="HS256")) is None


def test_token_keys_are_32_bytes_and_differ_per_kind():
    keys = {kind: tokens._key(kind) for kind in tokens.LIFETIMES}
    assert all(len(key) == 32 for key in keys.values())
    assert len(set(keys.values())) == len(keys)


def test_garbage_and_oversized_tokens_are_refused():
    assert tokens.read("session", "") is None
    assert tokens.read("session", "not.a.token") is None
    assert tokens.read("session", "a" * 5000) is None


def test_csrf_token_is_bound_to_its_cookies(clock):
    bound = tokens.binding("cookie-a", "session-1")
    token = tokens.csrf_token(bound)
    assert tokens.csrf_valid(token, bound)
    assert not tokens.csrf_valid(token, tokens.binding("cookie-b", "session-1"))
    assert not tokens.csrf_valid(None, bound)


def test_short_secret_is_a_config_error(monkeypatch):
    monkeypatch.setenv("SESSION_SECRET", "short")
    bootstrap.reset()
    with pytest.raises(ConfigError):
        tokens.issue("session", "alice")


def test_deployed_without_a_secret_is_a_config_error(monkeypatch):
    monkeypatch.delenv("SESSION_SECRET")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "imgshelf-dev")
    bootstrap.reset()
    with pytest.raises(ConfigError):
        tokens.issue("session", "alice")


def test_secret_comes_from_ssm_once(monkeypatch, aws):
    import boto3

    monkeypatch.delenv("SESSION_SECRET")
    monkeypatch.setenv("SESSION_SECRET_PARAMETER", "/imgshelf/dev/session-secret")
    boto3.client("ssm").put_parameter(
        Name="/imgshelf/dev/session-secret", Value="p" * 48, Type="SecureString"
    )
    bootstrap.reset()
    calls = []
    bootstrap.client("ssm").meta.events.register(
        "before-call.*.*", lambda **kw: calls.append(kw["event_name"])
    )
    token = tokens.issue("session", "alice")
    assert tokens.read("session", token)["sub"] == "alice"
    tokens.issue("reset", "alice")
    assert calls == ["before-call.ssm.GetParameter"]  # once per container, not per token
