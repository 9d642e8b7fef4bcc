"""Helpers for the API tests: upload through the Chalice test client, inspect the bucket and table."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import bootstrap
from tests import images


class Api:
    def __init__(self, client: Any, key: str) -> None:
        self.client = client
        self.key = key

    def upload(self, data: bytes | None = None, *, fmt: str = "json", query: str = "", **fields: str) -> Any:
        content_type, body = images.multipart(
            fields, {"image": ("photo.png", data if data is not None else images.png())}
        )
        return self.client.http.post(
            f"/2/upload.{fmt}?key={self.key}{query}", headers={"Content-Type": content_type}, body=body
        )

    def upload_ok(self, data: bytes | None = None, **fields: str) -> dict[str, Any]:
        response = self.upload(data, **fields)
        assert response.status_code == 200, response.body
        return json.loads(response.body)["upload"]


@pytest.fixture(autouse=True)
def _session_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sessions, reset links and CSRF tokens need a key; production reads it from SSM."""
    monkeypatch.setenv("SESSION_SECRET", "test-secret-" + "x" * 32)
    bootstrap.reset()


@pytest.fixture
def api(client: Any, api_key: str) -> Api:
    return Api(client, api_key)


def stored_keys() -> list[str]:
    import boto3  # the tests' own client: inspection is not an app call for the policy check

    s3 = boto3.client("s3")
    listing = s3.list_objects_v2(Bucket=bootstrap.settings().images_bucket_name)
    return sorted(o["Key"] for o in listing.get("Contents", []))


def stored_kinds() -> list[str]:
    import boto3

    ddb = boto3.client("dynamodb")
    items = ddb.scan(TableName=bootstrap.settings().records_table_name)["Items"]
    return sorted(i.get("kind", {}).get("S", "?") for i in items)


def nothing_stored() -> bool:
    return stored_keys() == [] and [k for k in stored_kinds() if k not in ("app", "key")] == []
