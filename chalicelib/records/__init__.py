"""DynamoDB records (single table): images, deletehashes, applications; key builders live in this package."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from chalicelib.errors import ServiceUnavailable

THROTTLING_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
TOMBSTONE_SECONDS = 7 * 24 * 3600
PENDING_SHARDS = 8


class Collision(Exception):
    """A conditional write found the key taken (a hash or deletehash collision, a duplicate name)."""


def error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


# Key builders: the only place where key strings are spelled.
def image_key(image_hash: str) -> dict[str, Any]:
    return {"pk": {"S": f"IMG#{image_hash}"}, "sk": {"S": "IMG"}}


def deletehash_key(deletehash: str) -> dict[str, Any]:
    return {"pk": {"S": f"DEL#{deletehash}"}, "sk": {"S": "DEL"}}


def application_key(consumer_key: str) -> dict[str, Any]:
    return {"pk": {"S": f"APP#{consumer_key}"}, "sk": {"S": "APP"}}


def api_key_key(api_key: str) -> dict[str, Any]:
    return {"pk": {"S": f"KEY#{api_key}"}, "sk": {"S": "KEY"}}


def pending_partition(image_hash: str, created: int) -> str:
    # Sharded by hour and hash so a busy hour never concentrates writes on one partition.
    shard = ord(image_hash[0]) % PENDING_SHARDS
    return f"PENDING#{created // 3600 * 3600}#{shard}"


def owner_partition(account: str) -> str:
    return f"OWNER#{account}"


@dataclass(frozen=True)
class Application:
    consumer_key: str
    consumer_secret: str
    api_key: str
    name: str
    callback: str
    created: int
    owner: str | None = None
    revoked: bool = False


@dataclass(frozen=True)
class ImageRecord:
    hash: str
    deletehash: str
    ext: str
    mime: str
    width: int
    height: int
    size: int
    animated: bool
    created: int
    title: str | None = None
    caption: str | None = None
    name: str | None = None
    owner: str | None = None
    views: int = 0
    thumbs: str = "pending"  # pending | ready | failed


def to_item(value: Mapping[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {k: serializer.serialize(v) for k, v in value.items() if v is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    plain = {k: deserializer.deserialize(v) for k, v in item.items()}
    # Numbers come back as Decimal; the project deals in int only.
    return {k: int(v) if type(v).__name__ == "Decimal" else v for k, v in plain.items()}


def _build[T](cls: type[T], item: Mapping[str, Any]) -> T:
    plain = from_item(item)
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in plain.items() if k in names})


class DynamoRecords:
    """The records table, behind methods that speak in the project's dataclasses."""

    def __init__(self, client: Any, table: str, clock: Callable[[], float]) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, operation)(TableName=self._table, **kwargs)
        except Exception as error:
            if error_code(error) in THROTTLING_CODES:
                raise ServiceUnavailable(headers={"Retry-After": "1"}) from error
            raise

    def _transact(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            next(iter(item.values()))["TableName"] = self._table
        try:
            self._client.transact_write_items(TransactItems=items)
        except Exception as error:
            code = error_code(error)
            if code == "TransactionCanceledException":
                reasons = getattr(error, "response", {}).get("CancellationReasons", [])
                if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons) or not reasons:
                    raise Collision() from error
                # Another transaction held an item (TransactionConflict) or DynamoDB shed load:
                # both pass, so the caller may retry.
                if any(r.get("Code") in THROTTLING_CODES | {"TransactionConflict"} for r in reasons):
                    raise ServiceUnavailable(headers={"Retry-After": "1"}) from error
            if code in THROTTLING_CODES:
                raise ServiceUnavailable(headers={"Retry-After": "1"}) from error
            raise

    # Applications -------------------------------------------------------------------------
    def put_application(self, app: Application) -> None:
        body = asdict(app)
        self._transact(
            [
                {
                    "Put": {
                        "Item": {**application_key(app.consumer_key), **to_item({**body, "kind": "app"})},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "Item": {**api_key_key(app.api_key), **to_item({**body, "kind": "key"})},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )

    def application_for_key(self, api_key: str) -> Application | None:
        item = self._call("get_item", Key=api_key_key(api_key)).get("Item")
        if not item:
            return None
        app = _build(Application, item)
        return None if app.revoked else app

    # Images --------------------------------------------------------------------------------
    def create_image(self, image: ImageRecord) -> None:
        """Image, deletehash pointer and repair marker in one transaction; Collision if taken."""
        body = {k: v for k, v in asdict(image).items() if v is not None}
        owned = {}
        if image.owner:
            owned = {"gsi1pk": owner_partition(image.owner), "gsi1sk": f"{image.created:012d}#{image.hash}"}
        self._transact(
            [
                {
                    "Put": {
                        "Item": {**image_key(image.hash), **to_item({**body, **owned, "kind": "image"})},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "Item": {
                            **deletehash_key(image.deletehash),
                            **to_item({"hash": image.hash, "ext": image.ext, "kind": "deletehash"}),
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "Item": {
                            "pk": {"S": pending_partition(image.hash, image.created)},
                            "sk": {"S": image.hash},
                            **to_item({"kind": "pending", "expires_at": image.created + 2 * 86400}),
                        }
                    }
                },
            ]
        )

    def image(self, image_hash: str) -> ImageRecord | None:
        item = self._call("get_item", Key=image_key(image_hash), ConsistentRead=True).get("Item")
        if not item or "deleted" in item:
            return None
        return _build(ImageRecord, item)

    def count_view(self, image_hash: str) -> ImageRecord | None:
        """Add one view and return the image, in one write (no read before it)."""
        try:
            result = self._call(
                "update_item",
                Key=image_key(image_hash),
                UpdateExpression="ADD #views :one",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(deleted)",
                ExpressionAttributeNames={"#views": "views"},
                ExpressionAttributeValues={":one": {"N": "1"}},
                ReturnValues="ALL_NEW",
            )
        except Exception as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return None
            raise
        return _build(ImageRecord, result["Attributes"])

    def image_for_deletehash(self, deletehash: str) -> tuple[str, str] | None:
        item = self._call("get_item", Key=deletehash_key(deletehash), ConsistentRead=True).get("Item")
        if not item:
            return None
        plain = from_item(item)
        return str(plain["hash"]), str(plain["ext"])

    def delete_image(self, image_hash: str, deletehash: str, ext: str) -> None:
        """Replace the image with a tombstone and mark its deletehash as being deleted, atomically.

        The tombstone keeps the hash reserved and tells a late thumbnail event that the image is
        gone; TTL removes it after a week. It keeps the deletehash, so a delete whose object
        removal failed can be retried with the same deletehash. Collision if the pair no longer
        matches.
        """
        now = int(self._clock())
        tombstone = {"kind": "tombstone", "deleted": now, "expires_at": now + TOMBSTONE_SECONDS}
        self._transact(
            [
                {
                    "Put": {
                        "Item": {
                            **image_key(image_hash),
                            **to_item({**tombstone, "deletehash": deletehash, "ext": ext}),
                        },
                        "ConditionExpression": "deletehash = :dh",
                        "ExpressionAttributeValues": {":dh": {"S": deletehash}},
                    }
                },
                {
                    "Update": {
                        "Key": deletehash_key(deletehash),
                        "UpdateExpression": "SET deleting = :now",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": {":now": {"N": str(now)}},
                    }
                },
            ]
        )

    def drop_deletehash(self, deletehash: str) -> None:
        """The last step of a delete, once the objects are gone: the deletehash stops working."""
        self._call("delete_item", Key=deletehash_key(deletehash))
