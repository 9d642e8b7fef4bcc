"""Records of the thumbnail and statistics functions: thumbnail state, repair markers, daily stats."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.errors import ServiceUnavailable
from chalicelib.records import (
    THROTTLING_CODES,
    DynamoRecords,
    ImageRecord,
    _build,
    error_code,
    image_key,
    pending_partition,
)


def stats_key(day: str) -> dict[str, Any]:
    return {"pk": {"S": f"STATS#{day}"}, "sk": {"S": "STATS"}}


BATCH_ATTEMPTS = 5


@dataclass(frozen=True)
class StatsChange:
    day: str
    views: int
    bandwidth: int
    uploaded: int
    uploaded_bytes: int
    top: dict[str, int]
    version: int


@dataclass(frozen=True)
class DailyStats:
    day: str
    images_uploaded: int = 0
    bytes_uploaded: int = 0
    views: int = 0
    bandwidth: int = 0
    top: dict[str, int] | None = None  # approximate heavy hitters of the day: hash -> views
    version: int = 0


class ThumbnailRecords(DynamoRecords):
    """What the thumbnail and statistics functions need of the records table."""

    def image_or_tombstone(self, image_hash: str) -> tuple[ImageRecord | None, bool]:
        """(image, deleted): a tombstone means the image was deleted and must stay so."""
        item = self._call("get_item", Key=image_key(image_hash), ConsistentRead=True).get("Item")
        if not item:
            return None, False
        if "deleted" in item:
            return None, True
        return _build(ImageRecord, item), False

    def finish_thumbnails(self, image: ImageRecord, state: str) -> None:
        """Mark thumbnails ready or failed and drop the repair marker, in one transaction.

        Conditioned on the image still pending and not deleted: a duplicated event or a
        concurrent delete turns into Collision.
        """
        self._transact(
            [
                {
                    "Update": {
                        "Key": image_key(image.hash),
                        "UpdateExpression": "SET thumbs = :state",
                        "ConditionExpression": "thumbs = :pending AND attribute_not_exists(deleted)",
                        "ExpressionAttributeValues": {":state": {"S": state}, ":pending": {"S": "pending"}},
                    }
                },
                {
                    "Delete": {
                        "Key": {
                            "pk": {"S": pending_partition(image.hash, image.created)},
                            "sk": {"S": image.hash},
                        }
                    }
                },
            ]
        )

    def pending(self, hour_start: int, shard: int) -> list[tuple[str, int]]:
        """Hashes still waiting for thumbnails from uploads in that hour: (hash, created)."""
        found = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"PENDING#{hour_start}#{shard}"}},
        }
        while True:
            page = self._call("query", **kwargs)
            found += [(i["sk"]["S"], hour_start) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def drop_pending(self, image_hash: str, created: int) -> None:
        self._call(
            "delete_item",
            Key={"pk": {"S": pending_partition(image_hash, created)}, "sk": {"S": image_hash}},
        )

    def daily_stats(self, days: list[str]) -> list[DailyStats]:
        """Up to 100 days in one BatchGetItem (unprocessed keys retried a few times, then 503)."""
        keys = [stats_key(day) for day in days]
        found: list[DailyStats] = []
        request: dict[str, Any] = {self._table: {"Keys": keys}}
        for _ in range(BATCH_ATTEMPTS):
            try:
                reply = self._client.batch_get_item(RequestItems=request)
            except Exception as error:
                if error_code(error) in THROTTLING_CODES:
                    raise ServiceUnavailable(headers={"Retry-After": "1"}) from error
                raise
            found += [_build(DailyStats, item) for item in reply.get("Responses", {}).get(self._table, [])]
            request = reply.get("UnprocessedKeys") or {}
            if not request:
                return found
        raise ServiceUnavailable(headers={"Retry-After": "1"})

    def add_stats(self, changes: list[StatsChange]) -> None:
        """Every day's counters and top table in one transaction: all days or none, so a retried
        stream batch cannot count some days twice. Collision if another writer got there first."""
        items = []
        for change in changes:
            values = {
                ":views": {"N": str(change.views)},
                ":bandwidth": {"N": str(change.bandwidth)},
                ":uploaded": {"N": str(change.uploaded)},
                ":bytes": {"N": str(change.uploaded_bytes)},
                ":top": {"M": {h: {"N": str(n)} for h, n in change.top.items()}},
                ":version": {"N": str(change.version)},
                ":next": {"N": str(change.version + 1)},
                ":day": {"S": change.day},
            }
            items.append(
                {
                    "Update": {
                        "Key": stats_key(change.day),
                        "UpdateExpression": (
                            "ADD #views :views, bandwidth :bandwidth, images_uploaded :uploaded, "
                            "bytes_uploaded :bytes SET top = :top, version = :next, #day = :day"
                        ),
                        "ConditionExpression": "attribute_not_exists(version) OR version = :version",
                        "ExpressionAttributeNames": {"#views": "views", "#day": "day"},
                        "ExpressionAttributeValues": values,
                    }
                }
            )
        self._transact(items)
