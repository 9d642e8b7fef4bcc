"""Settings from environment variables, read on first use and validated."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

from chalicelib.errors import ConfigError

MIB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    public_base_url: str = "http://127.0.0.1:8000"
    media_base_url: str = ""
    images_bucket_name: str = "imgshelf-images"
    records_table_name: str = "imgshelf-records"
    credits_table_name: str = "imgshelf-credits"
    credits_anon_per_hour: int = 500
    credits_user_per_hour: int = 1000
    credits_pro_per_hour: int = 2000
    upload_cost: int = 10
    max_upload_bytes: int = 10 * MIB
    max_pixels: int = 50_000_000
    sideload_allow_hosts: frozenset[str] = field(default_factory=frozenset)
    signin_failures_per_name: int = 10
    signin_failures_per_ip: int = 100
    session_secret: str = ""
    session_secret_parameter: str = ""
    mail_from: str = "imgshelf@localhost"
    mail_mode: str = "console"

    @property
    def media_base(self) -> str:
        return self.media_base_url or self.public_base_url


def _url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(
            f"{name} must be an http(s) base URL such as https://img.example.com, got {value!r}"
        )
    return value.rstrip("/")


def _int(name: str, value: str, minimum: int) -> int:
    try:
        number = int(value.replace("_", ""))
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {number}")
    return number


def _hosts(value: str) -> frozenset[str]:
    return frozenset(h.strip().lower() for h in value.split(",") if h.strip())


def _choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def load(environ: dict[str, str] | os._Environ[str] | None = None) -> Settings:
    """Build Settings from an environment mapping; a bad value raises ConfigError naming it."""
    env = os.environ if environ is None else environ
    defaults = Settings()

    def text(name: str, default: str) -> str:
        return env.get(name, "").strip() or default

    public = _url("PUBLIC_BASE_URL", text("PUBLIC_BASE_URL", defaults.public_base_url))
    media_raw = text("MEDIA_BASE_URL", "")
    return Settings(
        public_base_url=public,
        media_base_url=_url("MEDIA_BASE_URL", media_raw) if media_raw else "",
        images_bucket_name=text("IMAGES_BUCKET_NAME", defaults.images_bucket_name),
        records_table_name=text("RECORDS_TABLE_NAME", defaults.records_table_name),
        credits_table_name=text("CREDITS_TABLE_NAME", defaults.credits_table_name),
        credits_anon_per_hour=_int("CREDITS_ANON_PER_HOUR", text("CREDITS_ANON_PER_HOUR", "500"), 1),
        credits_user_per_hour=_int("CREDITS_USER_PER_HOUR", text("CREDITS_USER_PER_HOUR", "1000"), 1),
        credits_pro_per_hour=_int("CREDITS_PRO_PER_HOUR", text("CREDITS_PRO_PER_HOUR", "2000"), 1),
        upload_cost=_int("UPLOAD_COST", text("UPLOAD_COST", "10"), 0),
        max_upload_bytes=_int("MAX_UPLOAD_BYTES", text("MAX_UPLOAD_BYTES", str(10 * MIB)), 1024),
        max_pixels=_int("MAX_PIXELS", text("MAX_PIXELS", "50000000"), 1),
        sideload_allow_hosts=_hosts(text("SIDELOAD_ALLOW_HOSTS", "")),
        signin_failures_per_name=_int("SIGNIN_FAILURES_PER_NAME", text("SIGNIN_FAILURES_PER_NAME", "10"), 1),
        signin_failures_per_ip=_int("SIGNIN_FAILURES_PER_IP", text("SIGNIN_FAILURES_PER_IP", "100"), 1),
        session_secret=text("SESSION_SECRET", ""),
        session_secret_parameter=text("SESSION_SECRET_PARAMETER", ""),
        mail_from=text("MAIL_FROM", defaults.mail_from),
        mail_mode=_choice("MAIL_MODE", text("MAIL_MODE", "console"), ("console", "ses")),
    )


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process's settings, read once from os.environ (bootstrap.reset() clears the cache)."""
    return load()
