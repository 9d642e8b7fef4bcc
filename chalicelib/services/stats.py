"""Site statistics: views aggregated off the request path, reported by GET /2/stats from daily items."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib import bootstrap
from chalicelib.errors import BadRequest
from chalicelib.records import Collision
from chalicelib.records.thumbnails import DailyStats

VIEWS = {"today": 1, "week": 7, "month": 30}
TOP_SIZE = 50  # heavy hitters kept per day (Space-Saving); the report lists the first 10
REPORTED = 10
UNITS = ("B", "KB", "MB", "GB", "TB", "PB")


def day_of(epoch: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(epoch))


def human_size(size: float) -> str:
    """'40.74 KB', '4.58 TB': how v2 wrote sizes (1024-based)."""
    unit = 0
    while size >= 1024 and unit < len(UNITS) - 1:
        size /= 1024
        unit += 1
    return f"{size:.2f} {UNITS[unit]}"


def report(view: str | None) -> dict[str, Any]:
    view = view or "month"
    if view not in VIEWS:
        raise BadRequest("view must be today, week or month")
    now = bootstrap.clock()()
    days = [day_of(now - 86400 * back) for back in range(VIEWS[view])]
    found = bootstrap.thumbnail_records().daily_stats(days)
    uploaded = sum(d.images_uploaded for d in found)
    uploaded_bytes = sum(d.bytes_uploaded for d in found)
    popular: Counter[str] = Counter()
    for daily in found:
        popular.update(daily.top or {})
    return {
        "most_popular_images": [h for h, _ in popular.most_common(REPORTED)],
        "images_uploaded": uploaded,
        "images_veiwed": sum(d.views for d in found),  # sic: v2 spelled it so
        "bandwidth_used": human_size(sum(d.bandwidth for d in found)),
        "average_image_size": human_size(uploaded_bytes / uploaded if uploaded else 0),
    }


def space_saving(
    top: Mapping[str, int], increments: Mapping[str, int], size: int = TOP_SIZE
) -> dict[str, int]:
    """Merge view increments into a bounded heavy-hitter table (the Space-Saving algorithm).

    A hash not in a full table replaces the smallest entry and inherits its count, so every
    hash with more than total/size views of the day is guaranteed to be present.
    """
    table = dict(top)
    for image_hash, count in sorted(increments.items(), key=lambda kv: -kv[1]):
        if image_hash in table:
            table[image_hash] += count
        elif len(table) < size:
            table[image_hash] = count
        else:
            smallest = min(table, key=table.__getitem__)
            table[image_hash] = table.pop(smallest) + count
    return table


def view_increments(stream_records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per day: views, bandwidth and per-hash increments from DynamoDB stream records of images."""
    days: dict[str, dict[str, Any]] = {}
    for record in stream_records:
        change = record.get("dynamodb", {})
        new, old = change.get("NewImage") or {}, change.get("OldImage") or {}
        if record.get("eventName") != "MODIFY" or new.get("kind", {}).get("S") != "image":
            continue
        delta = int(new.get("views", {}).get("N", 0)) - int(old.get("views", {}).get("N", 0))
        if delta <= 0:
            continue
        day = day_of(float(change.get("ApproximateCreationDateTime", bootstrap.clock()())))
        entry = days.setdefault(day, {"views": 0, "bandwidth": 0, "hashes": Counter()})
        entry["views"] += delta
        entry["bandwidth"] += delta * int(new.get("size", {}).get("N", 0))
        entry["hashes"][new["hash"]["S"]] += delta
    return days


def aggregate(event: Any) -> int:
    """The records-stream handler: fold view counts into the daily items; returns views counted."""
    raw = event.to_dict() if hasattr(event, "to_dict") else event
    records = bootstrap.thumbnail_records()
    counted = 0
    for day, entry in view_increments((raw or {}).get("Records") or []).items():
        for _ in range(5):  # optimistic concurrency on the day's top table
            current = _current(records.daily_stats([day]), day)
            top = space_saving(current.top or {}, entry["hashes"])
            try:
                records.add_views(day, entry["views"], entry["bandwidth"], top, current.version)
                counted += entry["views"]
                break
            except Collision:
                continue
        else:
            raise RuntimeError(f"stats for {day} kept changing; the stream will retry the batch")
    return counted


def _current(found: list[DailyStats], day: str) -> DailyStats:
    return found[0] if found else DailyStats(day=day)
