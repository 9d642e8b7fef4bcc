"""Site statistics: views aggregated off the request path, reported by GET /2/stats from daily items."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib import bootstrap
from chalicelib.errors import BadRequest
from chalicelib.records import Collision
from chalicelib.records.thumbnails import DailyStats, StatsChange

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


def increments(stream_records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per day: uploads, bytes, views, bandwidth and per-hash views, from records-stream changes.

    A new image item is an upload; a rise of an image's `views` is that many views (the media
    redirect's one write); everything else in the table is ignored.
    """
    days: dict[str, dict[str, Any]] = {}
    for record in stream_records:
        change = record.get("dynamodb", {})
        new, old = change.get("NewImage") or {}, change.get("OldImage") or {}
        if new.get("kind", {}).get("S") != "image":
            continue
        day = day_of(float(change.get("ApproximateCreationDateTime", bootstrap.clock()())))
        entry = days.setdefault(
            day, {"views": 0, "bandwidth": 0, "uploaded": 0, "bytes": 0, "hashes": Counter()}
        )
        size = int(new.get("size", {}).get("N", 0))
        if record.get("eventName") == "INSERT":
            entry["uploaded"] += 1
            entry["bytes"] += size
            continue
        delta = int(new.get("views", {}).get("N", 0)) - int(old.get("views", {}).get("N", 0))
        if record.get("eventName") == "MODIFY" and delta > 0:
            entry["views"] += delta
            entry["bandwidth"] += delta * size
            entry["hashes"][new["hash"]["S"]] += delta
    return days


def aggregate(event: Any) -> int:
    """The records-stream handler: fold a batch into the daily items, all days in one transaction.

    Returns the views counted. Another writer's change of a day's top table (optimistic
    versioning) makes it read and try again; failing that, the stream retries the whole batch,
    which is safe because nothing of it was written.
    """
    raw = event.to_dict() if hasattr(event, "to_dict") else event
    days = increments((raw or {}).get("Records") or [])
    if not days:
        return 0
    records = bootstrap.thumbnail_records()
    for _ in range(5):
        current = {d.day: d for d in records.daily_stats(sorted(days))}
        changes = [
            StatsChange(
                day=day,
                views=entry["views"],
                bandwidth=entry["bandwidth"],
                uploaded=entry["uploaded"],
                uploaded_bytes=entry["bytes"],
                top=space_saving(current.get(day, DailyStats(day=day)).top or {}, entry["hashes"]),
                version=current.get(day, DailyStats(day=day)).version,
            )
            for day, entry in days.items()
        ]
        try:
            records.add_stats(changes)
            return sum(entry["views"] for entry in days.values())
        except Collision:
            continue
    raise RuntimeError("daily statistics kept changing; the stream will retry the batch")
