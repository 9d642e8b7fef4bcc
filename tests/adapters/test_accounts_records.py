"""The accounts adapter against moto: unique names and e-mails, tokens, nonces, owned applications."""

from __future__ import annotations

import dataclasses

import pytest

from chalicelib import bootstrap
from chalicelib.errors import ServiceUnavailable
from chalicelib.records.accounts import (
    AccessToken,
    Account,
    DynamoAccounts,
    EmailTaken,
    NameTaken,
    RequestToken,
)
from chalicelib.services import applications


@pytest.fixture
def records(aws, clock) -> DynamoAccounts:
    return bootstrap.accounts()


def _account(name: str = "Alice", email: str = "alice@example.test") -> Account:
    return Account(name=name, email=email, password_hash="scrypt$1$1$1$AA$AA", created=1_800_000_000)


def _scan_kinds() -> list[str]:
    import boto3

    items = boto3.client("dynamodb").scan(TableName=bootstrap.settings().records_table_name)["Items"]
    return sorted(i["kind"]["S"] for i in items)


def test_account_round_trip_with_plain_types(records):
    records.create_account(_account())
    found = records.account("alice")  # user names are unique without regard to case
    assert found == _account()
    assert isinstance(found.created, int) and found.pro is False and found.session_epoch == 0
    assert records.account_for_email("ALICE@example.test") == found
    assert records.account("nobody") is None and records.account_for_email("x@y.test") is None


def test_duplicate_name_or_email_is_refused_and_writes_nothing(records):
    records.create_account(_account())
    with pytest.raises(NameTaken):
        records.create_account(_account("ALICE", "other@example.test"))
    with pytest.raises(EmailTaken):
        records.create_account(_account("Bob", "Alice@Example.test"))
    assert _scan_kinds() == ["account", "email"]  # the transaction left no half account behind


def test_password_change_and_sign_out_advance_the_session_epoch(records):
    records.create_account(_account())
    assert records.set_password("alice", "scrypt$new").session_epoch == 1
    assert records.end_sessions("Alice").session_epoch == 2
    assert records.account("alice").password_hash == "scrypt$new"
    assert records.set_password("nobody", "x") is None


def test_settings_and_pro_flag(records):
    records.create_account(_account())
    updated = records.update_settings("alice", default_album_privacy="secret", public_images=True)
    assert (updated.default_album_privacy, updated.public_images) == ("secret", True)
    assert records.update_settings("alice", default_album_privacy=None).default_album_privacy == "secret"
    assert records.set_pro("alice", True).pro is True
    assert records.update_settings("nobody", public_images=False) is None


def test_reset_token_use_is_single(records):
    assert records.use_reset_token("jti-1", 1_800_003_600) is True
    assert records.use_reset_token("jti-1", 1_800_003_600) is False
    assert records.use_reset_token("jti-2", 1_800_003_600) is True


def test_nonce_is_single_use_until_it_expires(records, clock):
    expires = int(clock.now) + 600
    assert records.use_nonce("ck", "tok", "1800000000", "n1", expires) is True
    assert records.use_nonce("ck", "tok", "1800000000", "n1", expires) is False
    assert records.use_nonce("ck", "other", "1800000000", "n1", expires) is True  # per token
    assert records.use_nonce("ck", "tok", "1800000001", "n1", expires) is True  # per timestamp
    clock.advance(601)  # TTL deletion lags: an expired record is reusable even while still stored
    assert records.use_nonce("ck", "tok", "1800000000", "n1", expires + 601) is True


def _request_token(clock, token: str = "r" * 40) -> RequestToken:
    now = int(clock.now)
    return RequestToken(token, "s" * 40, "c" * 41, "oob", now, now + 3600)


def test_request_token_is_authorized_once_and_exchanged_once(records, clock):
    records.put_request_token(_request_token(clock))
    assert records.authorize_request_token("r" * 40, "Alice", "verifier1234") is True
    assert records.authorize_request_token("r" * 40, "Mallory", "verifier9999") is False
    pending = records.request_token("r" * 40)
    assert (pending.account, pending.verifier) == ("Alice", "verifier1234")
    access = AccessToken("a" * 40, "t" * 40, "c" * 41, "Alice", int(clock.now))
    assert records.exchange_request_token("r" * 40, "wrong-verifier", access) is False
    assert records.exchange_request_token("r" * 40, "verifier1234", access) is True
    assert records.request_token("r" * 40) is None
    again = dataclasses.replace(access, token="b" * 40)
    assert records.exchange_request_token("r" * 40, "verifier1234", again) is False
    assert records.access_token("a" * 40) == access
    assert records.access_token("b" * 40) is None


def test_request_token_cannot_be_authorized_or_exchanged_after_an_hour(records, clock):
    records.put_request_token(_request_token(clock))
    clock.advance(3600)
    assert records.authorize_request_token("r" * 40, "Alice", "verifier1234") is False
    records.put_request_token(_request_token(clock, "q" * 40))
    assert records.authorize_request_token("q" * 40, "Alice", "verifier1234") is True
    clock.advance(3600)
    access = AccessToken("a" * 40, "t" * 40, "c" * 41, "Alice", int(clock.now))
    assert records.exchange_request_token("q" * 40, "verifier1234", access) is False


def test_application_and_token_come_in_one_read_whether_or_not_they_exist(records, clock, aws_calls):
    app = applications.create("client", "Alice", "oob")
    records.put_request_token(dataclasses.replace(_request_token(clock), consumer_key=app.consumer_key))
    aws_calls.reset()
    found_app, found_token = records.application_and_token(app.consumer_key, "r" * 40, "request")
    assert found_app == app and found_token.consumer_key == app.consumer_key
    assert records.application_and_token("f" * 41, "x" * 40, "access") == (None, None)
    assert aws_calls.calls == ["dynamodb.BatchGetItem", "dynamodb.BatchGetItem"]


def test_owned_applications_are_listed_newest_first_and_revoked_by_their_owner(records, clock):
    first = applications.create("first", "Alice", "oob")
    records.add_owned_application("Alice", first.consumer_key, first.created)
    clock.advance(10)
    second = applications.create("second", "Alice", "oob")
    records.add_owned_application("Alice", second.consumer_key, second.created)
    other = applications.create("other", "Bob", "oob")
    records.add_owned_application("Bob", other.consumer_key, other.created)
    assert [a.name for a in records.owned_applications("Alice")] == ["second", "first"]
    assert records.revoke_application("Bob", first) is False
    assert records.revoke_application("Alice", first) is True
    assert records.application(first.consumer_key).revoked is True
    assert bootstrap.records().application_for_key(first.api_key) is None  # the API key is revoked too
    assert "images" not in _scan_kinds()


def test_throttled_batch_read_fails_closed(records, aws_calls):
    aws_calls.fail("dynamodb.BatchGetItem", "ProvisionedThroughputExceededException")
    with pytest.raises(ServiceUnavailable):
        records.application_and_token("c" * 41, "t" * 40, "access")
