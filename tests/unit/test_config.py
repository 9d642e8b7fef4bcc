"""Settings: defaults, parsing, and errors that name the variable."""

from __future__ import annotations

import pytest

from chalicelib.config import load
from chalicelib.errors import ConfigError


def test_defaults_match_the_contract():
    settings = load({})
    assert settings.credits_anon_per_hour == 500
    assert settings.credits_user_per_hour == 1000
    assert settings.credits_pro_per_hour == 2000
    assert settings.upload_cost == 10
    assert settings.max_upload_bytes == 10 * 1024 * 1024
    assert settings.max_pixels == 50_000_000
    assert settings.sideload_allow_hosts == frozenset()
    assert settings.media_base == settings.public_base_url


def test_values_are_parsed():
    settings = load(
        {
            "PUBLIC_BASE_URL": "https://img.example.com/",
            "MEDIA_BASE_URL": "https://cdn.example.com",
            "CREDITS_ANON_PER_HOUR": "50",
            "SIDELOAD_ALLOW_HOSTS": "127.0.0.1, LocalHost",
        }
    )
    assert settings.public_base_url == "https://img.example.com"
    assert settings.media_base == "https://cdn.example.com"
    assert settings.credits_anon_per_hour == 50
    assert settings.sideload_allow_hosts == frozenset({"127.0.0.1", "localhost"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CREDITS_ANON_PER_HOUR", "lots"),
        ("CREDITS_USER_PER_HOUR", "0"),
        ("MAX_UPLOAD_BYTES", "-5"),
        ("PUBLIC_BASE_URL", "ftp://nope"),
        ("MEDIA_BASE_URL", "not a url"),
        ("MAIL_MODE", "pigeon"),
    ],
)
def test_bad_value_names_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        load({name: value})
