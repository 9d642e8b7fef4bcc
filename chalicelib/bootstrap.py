"""Builds and caches the boto3 clients and the adapters, lazily; reset() for tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalicelib import config

if TYPE_CHECKING:
    from chalicelib.credits import DynamoCreditLedger
    from chalicelib.records import DynamoRecords
    from chalicelib.records.accounts import DynamoAccounts
    from chalicelib.records.thumbnails import ThumbnailRecords
    from chalicelib.storage import S3ImageStore

# Lambda has at most 29 s behind API Gateway: fail fast and retry a little, never hang.
CLIENT_OPTIONS: dict[str, Any] = {
    "connect_timeout": 2,
    "read_timeout": 5,
    "retries": {"total_max_attempts": 3, "mode": "standard"},
}

_cache: dict[str, Any] = {}
_overrides: dict[str, Any] = {}
# Called with (service, client) for every client built: instrumentation (and the tests' policy
# and call-count checks) hook in here instead of patching the project's modules.
client_hooks: list[Callable[[str, Any], None]] = []


def reset() -> None:
    """Forget every client, adapter, override and the settings (tests call this between cases)."""
    _cache.clear()
    _overrides.clear()
    config.settings.cache_clear()


def override(**things: Any) -> None:
    """Replace adapters or the clock (`clock=...`) until the next reset()."""
    _overrides.update(things)


def provide(name: str, build: Callable[[], Any]) -> Any:
    """The cached value called `name`, built on first use (overrides win)."""
    if name in _overrides:
        return _overrides[name]
    if name not in _cache:
        _cache[name] = build()
    return _cache[name]


def settings() -> config.Settings:
    return provide("settings", config.settings)


def clock() -> Callable[[], float]:
    return provide("clock", lambda: time.time)


def client(service: str) -> Any:
    """A boto3 client with the project's timeouts and retry limits."""

    def build() -> Any:
        import boto3
        from botocore.config import Config

        options = dict(CLIENT_OPTIONS)
        if service == "s3":
            options["signature_version"] = "s3v4"  # presigned links: SigV2 is refused in newer regions
        built = boto3.session.Session().client(service, config=Config(**options))
        for hook in client_hooks:
            hook(service, built)
        return built

    return provide(f"client:{service}", build)


def credit_ledger() -> DynamoCreditLedger:
    from chalicelib.credits import DynamoCreditLedger

    return provide(
        "credit_ledger",
        lambda: DynamoCreditLedger(client("dynamodb"), settings().credits_table_name, clock()),
    )


def records() -> DynamoRecords:
    from chalicelib.records import DynamoRecords

    return provide(
        "records", lambda: DynamoRecords(client("dynamodb"), settings().records_table_name, clock())
    )


def accounts() -> DynamoAccounts:
    from chalicelib.records.accounts import DynamoAccounts

    return provide(
        "accounts", lambda: DynamoAccounts(client("dynamodb"), settings().records_table_name, clock())
    )


def thumbnail_records() -> ThumbnailRecords:
    from chalicelib.records.thumbnails import ThumbnailRecords

    return provide(
        "thumbnail_records",
        lambda: ThumbnailRecords(client("dynamodb"), settings().records_table_name, clock()),
    )


def image_store() -> S3ImageStore:
    from chalicelib.storage import S3ImageStore

    return provide("image_store", lambda: S3ImageStore(client("s3"), settings().images_bucket_name))
