"""Thumbnail use case: turns S3 ObjectCreated events on i/ into thumbnails (placeholder)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote_plus

log = logging.getLogger("imgshelf.thumbnails")


def handle_s3_event(event: Any) -> list[str]:
    """Log each original's key; the thumbnail issue replaces this with the real work."""
    keys = []
    for record in getattr(event, "to_dict", lambda: event)().get("Records", []) or []:
        key = unquote_plus(record.get("s3", {}).get("object", {}).get("key", ""))
        if key.startswith("i/"):
            log.info("new original %s", key)
            keys.append(key)
    return keys
