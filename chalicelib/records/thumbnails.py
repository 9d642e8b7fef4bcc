"""Records of the thumbnail and statistics functions: thumbnail state, repair markers, daily stats."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.errors import ServiceUnavailable
from chalicelib.records import (
    THROTTLING_CODES,
    Collision,
    DynamoRecords,
    ImageRecord,
    _build,
    error_code,
    image_key,
    pending_partition,
)


def stats_key(day: str) -> dict[str, Any]:
    return {"pk": {"S": f"STATS#{day}"}, "sk": {"S": "STATS"}}


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

    def finish_thumbnails(self, image: ImageRecord, state: str, day: str) -> None:
        """Mark thumbnails ready or failed, count the upload in the day's stats, drop the marker.

        One transaction conditioned on the image still pending and not deleted: a duplicated
        event or a concurrent delete turns into Collision, so stats count each image once.
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
                    "Update": {
                        "Key": stats_key(day),
                        "UpdateExpression": "ADD images_uploaded :one, bytes_uploaded :size SET #day = :day",
                        "ExpressionAttributeNames": {"#day": "day"},
                        "ExpressionAttributeValues": {
                            ":one": {"N": "1"},
                            ":size": {"N": str(image.size)},
                            ":day": {"S": day},
                        },
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
        """Up to 100 days in one BatchGetItem (unprocessed keys retried)."""
        keys = [stats_key(day) for day in days]
        found: list[DailyStats] = []
        request: dict[str, Any] = {self._table: {"Keys": keys}}
        while request:
            try:
                reply = self._client.batch_get_item(RequestItems=request)
            except Exception as error:
                if error_code(error) in THROTTLING_CODES:
                    raise ServiceUnavailable(headers={"Retry-After": "1"}) from error
                raise
            found += [_build(DailyStats, item) for item in reply.get("Responses", {}).get(self._table, [])]
            request = reply.get("UnprocessedKeys") or {}
        return found

    def add_views(self, day: str, views: int, bandwidth: int, top: dict[str, int], version: int) -> None:
        """Add views and replace the day's top list if nobody else changed it meanwhile (else Collision)."""
        try:
            self._call(
                "update_item",
                Key=stats_key(day),
                UpdateExpression=(
                    "ADD #views :views, bandwidth :bandwidth SET top = :top, version = :next, #day = :day"
                ),
                ConditionExpression="attribute_not_exists(version) OR version = :version",
                ExpressionAttributeNames={"#views": "views", "#day": "day"},
                ExpressionAttributeValues={
                    ":views": {"N": str(views)},
                    ":bandwidth": {"N": str(bandwidth)},
                    ":top": {"M": {h: {"N": str(n)} for h, n in top.items()}},
                    ":version": {"N": str(version)},
                    ":next": {"N": str(version + 1)},
                    ":day": {"S": day},
                },
            )
        except Exception as error:
            if error_code(error) == "ConditionalCheckFailedException":
                raise Collision() from error
            raise
