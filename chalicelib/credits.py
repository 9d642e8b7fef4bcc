"""The hourly credit ledger: one conditional UpdateItem per charge, the window in the key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import LimitExceeded, ServiceUnavailable

WINDOW_SECONDS = 3600
# Codes DynamoDB uses when it is shedding load; anything else is a real fault (500).
THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "TransactionInProgressException",
    }
)


@dataclass(frozen=True)
class Quota:
    """The state of one bucket after a call: what the X-RateLimit-* headers report."""

    limit: int
    used: int
    reset: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


def window_start(now: float) -> int:
    return int(now) // WINDOW_SECONDS * WINDOW_SECONDS


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class DynamoCreditLedger:
    """Credits per (bucket, hour) in DynamoDB; used may never pass the limit."""

    def __init__(self, client: Any, table: str, clock: Callable[[], float]) -> None:
        self._client = client
        self._table = table
        self._clock = clock
        # Buckets known to be exhausted until their reset: rejecting them again costs no write.
        self._exhausted: dict[tuple[str, int], int] = {}

    def _key(self, bucket: str, start: int) -> dict[str, Any]:
        return {"pk": {"S": f"{bucket}#{start}"}}

    def charge(self, bucket: str, cost: int, limit: int) -> Quota:
        """Take `cost` credits or raise LimitExceeded; the result carries the new `used`."""
        now = self._clock()
        start = window_start(now)
        reset = start + WINDOW_SECONDS
        if self._exhausted.get((bucket, limit)) == reset:
            exhausted = Quota(limit, limit, reset)
            if cost == 0:
                return exhausted
            raise self._refusal(exhausted, now)
        if cost == 0:
            return self.peek(bucket, limit)
        if cost > limit:  # else the first charge of an hour (no item yet) would pass the condition
            raise self._refusal(Quota(limit, 0, reset), now)
        try:
            result = self._client.update_item(
                TableName=self._table,
                Key=self._key(bucket, start),
                # Atomic: the condition and the ADD are one operation, so concurrent calls can
                # never push `used` past the limit and a rejected call leaves it unchanged.
                UpdateExpression="ADD used :cost SET expires_at = if_not_exists(expires_at, :exp)",
                ConditionExpression="attribute_not_exists(used) OR used <= :most",
                ExpressionAttributeValues={
                    ":cost": {"N": str(cost)},
                    ":most": {"N": str(limit - cost)},
                    ":exp": {"N": str(reset + WINDOW_SECONDS)},
                },
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as error:
            code = _error_code(error)
            if code == "ConditionalCheckFailedException":
                item = getattr(error, "response", {}).get("Item", {})
                used = int(item.get("used", {}).get("N", limit))
                quota = Quota(limit, used, reset)
                if quota.remaining == 0:
                    self._remember_exhausted(bucket, limit, reset)
                raise self._refusal(quota, now) from error
            if code in THROTTLING_CODES:
                raise ServiceUnavailable(headers={"Retry-After": "1"}) from error
            raise
        used = int(result["Attributes"]["used"]["N"])
        quota = Quota(limit, used, reset)
        if quota.remaining == 0:
            self._remember_exhausted(bucket, limit, reset)
        return quota

    def peek(self, bucket: str, limit: int) -> Quota:
        """The bucket's state without charging (one GetItem)."""
        now = self._clock()
        start = window_start(now)
        try:
            result = self._client.get_item(
                TableName=self._table, Key=self._key(bucket, start), ProjectionExpression="used"
            )
        except Exception as error:
            if _error_code(error) in THROTTLING_CODES:
                raise ServiceUnavailable(headers={"Retry-After": "1"}) from error
            raise
        used = int(result.get("Item", {}).get("used", {}).get("N", 0))
        return Quota(limit, min(used, limit), start + WINDOW_SECONDS)

    def _remember_exhausted(self, bucket: str, limit: int, reset: int) -> None:
        if len(self._exhausted) > 10_000:  # a warm container must not grow without bound
            self._exhausted.clear()
        self._exhausted[(bucket, limit)] = reset

    @staticmethod
    def _refusal(quota: Quota, now: float) -> LimitExceeded:
        retry_after = max(1, quota.reset - int(now))
        return LimitExceeded(headers={**quota.headers(), "Retry-After": str(retry_after)})
