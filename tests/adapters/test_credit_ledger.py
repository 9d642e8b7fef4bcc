"""The hourly credit ledger against moto: costs, limits, the hour window, throttling."""

from __future__ import annotations

import pytest

from chalicelib import bootstrap
from chalicelib.credits import WINDOW_SECONDS, DynamoCreditLedger
from chalicelib.errors import LimitExceeded, ServiceUnavailable


@pytest.fixture
def ledger(aws, clock) -> DynamoCreditLedger:
    return bootstrap.credit_ledger()


def stored_used(bucket: str, now: float) -> int | None:
    start = int(now) // WINDOW_SECONDS * WINDOW_SECONDS
    item = (
        bootstrap.client("dynamodb")
        .get_item(TableName=bootstrap.settings().credits_table_name, Key={"pk": {"S": f"{bucket}#{start}"}})
        .get("Item")
    )
    return None if item is None else int(item["used"]["N"])


def test_charges_add_up_to_used(ledger, clock):
    assert ledger.charge("anon:k", 10, 500).used == 10
    quota = ledger.charge("anon:k", 1, 500)
    assert (quota.used, quota.remaining, quota.limit) == (11, 489, 500)
    assert stored_used("anon:k", clock.now) == 11
    assert isinstance(quota.used, int)


def test_reset_is_the_end_of_the_hour(ledger, clock):
    clock.now = 7200 * 1000 + 1234
    assert ledger.charge("anon:k", 1, 500).reset == 7200 * 1000 + 3600


def test_exact_limit_is_allowed_and_one_more_refused(ledger, clock):
    ledger.charge("anon:k", 495, 500)
    assert ledger.charge("anon:k", 5, 500).remaining == 0
    with pytest.raises(LimitExceeded) as refused:
        ledger.charge("anon:k", 1, 500)
    assert refused.value.message == "API limits exceeded"
    assert refused.value.headers["X-RateLimit-Remaining"] == "0"
    assert int(refused.value.headers["Retry-After"]) > 0
    assert stored_used("anon:k", clock.now) == 500


def test_rejected_call_leaves_used_unchanged(ledger, clock):
    ledger.charge("anon:k", 495, 500)
    with pytest.raises(LimitExceeded) as refused:
        ledger.charge("anon:k", 10, 500)  # an upload needs 10, only 5 left
    assert refused.value.headers["X-RateLimit-Remaining"] == "5"
    assert stored_used("anon:k", clock.now) == 495
    assert ledger.charge("anon:k", 5, 500).used == 500  # the 5 are still there


def test_window_rolls_over_exactly_on_the_hour(ledger, clock):
    clock.now = 3600 * 500_000 + 3599
    ledger.charge("anon:k", 500, 500)
    with pytest.raises(LimitExceeded) as refused:
        ledger.charge("anon:k", 1, 500)
    assert refused.value.headers["Retry-After"] == "1"
    clock.advance(1)
    assert ledger.charge("anon:k", 1, 500).used == 1


def test_buckets_are_independent(ledger):
    ledger.charge("anon:a", 500, 500)
    assert ledger.charge("anon:b", 1, 500).used == 1


def test_exhausted_bucket_is_refused_without_a_write(ledger, aws_calls):
    ledger.charge("anon:k", 500, 500)
    aws_calls.reset()
    for _ in range(3):
        with pytest.raises(LimitExceeded):
            ledger.charge("anon:k", 1, 500)
    assert aws_calls.calls == []
    assert ledger.charge("anon:k", 0, 500).remaining == 0  # cost-0 peek also needs no call
    assert aws_calls.calls == []


def test_peek_reads_without_charging(ledger, clock):
    ledger.charge("anon:k", 7, 500)
    assert ledger.peek("anon:k", 500).used == 7
    assert ledger.peek("anon:fresh", 500).remaining == 500
    assert stored_used("anon:k", clock.now) == 7


def test_ttl_is_set_an_hour_after_the_window(ledger, clock):
    ledger.charge("anon:k", 1, 500)
    start = int(clock.now) // 3600 * 3600
    item = bootstrap.client("dynamodb").get_item(
        TableName=bootstrap.settings().credits_table_name, Key={"pk": {"S": f"anon:k#{start}"}}
    )["Item"]
    assert int(item["expires_at"]["N"]) == start + 7200


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
def test_throttling_fails_closed_with_503(ledger, aws_calls, code):
    aws_calls.fail("dynamodb.UpdateItem", code)
    with pytest.raises(ServiceUnavailable) as unavailable:
        ledger.charge("anon:k", 1, 500)
    assert unavailable.value.status == 503
    assert unavailable.value.headers["Retry-After"]


def test_clients_have_timeouts_and_bounded_retries(aws):
    config = bootstrap.client("dynamodb").meta.config
    assert config.connect_timeout <= 5
    assert config.read_timeout <= 10
    assert config.retries["total_max_attempts"] <= 4
