"""Saves and restores the local stack's bucket and tables under DATA_DIR, so data survives restarts."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

TABLE_SETTINGS = ("RECORDS_TABLE_NAME", "CREDITS_TABLE_NAME")


def save(session: Any, data_dir: Path, settings: dict[str, str]) -> None:
    """Write every item and object to a fresh folder, then swap it in (never a half snapshot)."""
    target = data_dir / "snapshot"
    staging = data_dir / "snapshot.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "objects").mkdir(parents=True)
    ddb = session.client("dynamodb")
    for setting in TABLE_SETTINGS:
        with (staging / f"{setting}.jsonl").open("w") as out:
            for page in ddb.get_paginator("scan").paginate(TableName=settings[setting]):
                for item in page.get("Items", []):
                    out.write(json.dumps(item) + "\n")
    s3 = session.client("s3")
    bucket = settings["IMAGES_BUCKET_NAME"]
    index: dict[str, dict[str, str]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for entry in page.get("Contents", []):
            key = entry["Key"]
            reply = s3.get_object(Bucket=bucket, Key=key)
            name = f"{len(index):08d}"
            (staging / "objects" / name).write_bytes(reply["Body"].read())
            index[name] = {"key": key, "content_type": reply.get("ContentType", "binary/octet-stream")}
    (staging / "objects.json").write_text(json.dumps(index))
    old = data_dir / "snapshot.old"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def restore(session: Any, data_dir: Path, settings: dict[str, str]) -> int:
    """Load a saved snapshot into freshly created resources; returns the number of things loaded."""
    source = data_dir / "snapshot"
    if not source.exists():
        return 0
    loaded = 0
    ddb = session.client("dynamodb")
    for setting in TABLE_SETTINGS:
        path = source / f"{setting}.jsonl"
        if not path.exists():
            continue
        items = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for start in range(0, len(items), 25):
            batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            pending: dict[str, Any] = {settings[setting]: batch}
            while pending:
                pending = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        loaded += len(items)
    index_path = source / "objects.json"
    if index_path.exists():
        s3 = session.client("s3")
        for name, meta in json.loads(index_path.read_text()).items():
            s3.put_object(
                Bucket=settings["IMAGES_BUCKET_NAME"],
                Key=meta["key"],
                Body=(source / "objects" / name).read_bytes(),
                ContentType=meta["content_type"],
            )
            loaded += 1
    return loaded
