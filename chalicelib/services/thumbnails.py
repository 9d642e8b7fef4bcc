"""Thumbnails: S3 ObjectCreated events on i/ become six JPEGs under t/, exactly once in effect."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote_plus

from chalicelib import bootstrap
from chalicelib.records import PENDING_SHARDS, Collision, ImageRecord, error_code

log = logging.getLogger("imgshelf.thumbnails")

REPAIR_AFTER_SECONDS = 5 * 60  # an event older than this has most likely been lost
REPAIR_LOOKBACK_HOURS = 48  # the repair markers expire after two days
MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


class RecordNotReady(Exception):
    """The original exists but its record does not (yet): raise so that Lambda retries."""


def event_records(event: Any) -> list[Mapping[str, Any]]:
    """The S3 records of a Lambda event (a Chalice S3Event or a plain dict); test events have none."""
    raw = event.to_dict() if hasattr(event, "to_dict") else event
    return list((raw or {}).get("Records") or [])


def handle_s3_event(event: Any) -> list[str]:
    """Make thumbnails for every new original in the event; returns the hashes handled."""
    done = []
    for record in event_records(event):
        if not str(record.get("eventName", "ObjectCreated")).startswith("ObjectCreated"):
            continue
        key = unquote_plus(record.get("s3", {}).get("object", {}).get("key", ""))
        parsed = parse_original_key(key)
        if parsed is None:
            log.info("ignoring %r: not an original", key)
            continue
        if make_for(parsed[0], key):
            done.append(parsed[0])
    return done


def parse_original_key(key: str) -> tuple[str, str] | None:
    if not key.startswith("i/") or "/" in key[2:]:
        return None
    stem, dot, ext = key[2:].partition(".")
    if not dot or not stem.isalnum() or ext not in ("jpg", "png", "gif"):
        return None
    return stem, ext


def make_for(image_hash: str, key: str | None = None) -> bool:
    """Thumbnails for one image; True when this call made them. Safe to repeat at any time."""
    from chalicelib.imaging.thumbnails import UndecodableImage, make_thumbnails

    records = bootstrap.thumbnail_records()
    store = bootstrap.image_store()
    image, deleted = records.image_or_tombstone(image_hash)
    if deleted:
        return False  # deleted before we started: write nothing
    if image is None:
        if key is not None and not _object_exists(key):
            return False  # a failed upload removed its object: nothing to do
        raise RecordNotReady(image_hash)  # the upload's records are not written yet: retry later
    if image.thumbs != "pending":
        return False  # a duplicated event: the first one did the work
    try:
        original = store.get(f"i/{image.hash}.{image.ext}")
    except Exception as error:
        if error_code(error) in MISSING_OBJECT_CODES:
            return False  # deleted while the event was in flight
        raise
    try:
        thumbnails = make_thumbnails(original, max_pixels=bootstrap.settings().max_pixels)
    except UndecodableImage:
        log.warning("image %s cannot be decoded; marked failed", image.hash)
        _finish(image, "failed")
        return False
    for suffix, data in thumbnails.items():
        store.put_thumbnail(image.hash, suffix, data)
    if not _finish(image, "ready"):
        # Deleted while we worked: the delete may have run before our writes, so undo them.
        _, deleted = records.image_or_tombstone(image.hash)
        if deleted:
            store.delete_image(image.hash, image.ext)
        return False
    return True


def _finish(image: ImageRecord, state: str) -> bool:
    try:
        bootstrap.thumbnail_records().finish_thumbnails(image, state)
        return True
    except Collision:
        return False


def _object_exists(key: str) -> bool:
    try:
        bootstrap.image_store().get(key)
        return True
    except Exception as error:
        if error_code(error) in MISSING_OBJECT_CODES:
            return False
        raise


def repair(now: float | None = None) -> list[str]:
    """The hourly sweep: make thumbnails whose event was lost; by Query on markers, never a scan."""
    records = bootstrap.thumbnail_records()
    now = bootstrap.clock()() if now is None else now
    current_hour = int(now) // 3600 * 3600
    repaired = []
    for hour in _hours(current_hour):
        for shard in range(PENDING_SHARDS):
            for image_hash, _ in records.pending(hour, shard):
                repaired += _repair_one(image_hash, now)
    return repaired


def _hours(current_hour: int) -> Iterable[int]:
    return (current_hour - 3600 * back for back in range(REPAIR_LOOKBACK_HOURS))


def _repair_one(image_hash: str, now: float) -> list[str]:
    records = bootstrap.thumbnail_records()
    image, _ = records.image_or_tombstone(image_hash)
    if image is None or image.thumbs != "pending":
        return []  # deleted or finished: its marker goes with the TTL or the next finish
    if now - image.created < REPAIR_AFTER_SECONDS:
        return []  # its event is probably still on the way
    try:
        return [image_hash] if make_for(image_hash) else []
    except Exception:
        log.exception("repair of %s failed; the next sweep tries again", image_hash)
        return []
