"""Shared fixtures: dummy AWS credentials, moto with the real template, the Chalice test client."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from chalicelib import bootstrap

TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "PUBLIC_BASE_URL": "http://imgshelf.test",
}
CLEARED_ENV = ("AWS_ENDPOINT_URL", "AWS_PROFILE", "MEDIA_BASE_URL", "SIDELOAD_ALLOW_HOSTS")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Dummy credentials before any client exists; never a real AWS endpoint."""
    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in TEST_ENV.items():
        monkeypatch.setenv(name, value)
    bootstrap.reset()
    yield
    bootstrap.reset()


@pytest.fixture(autouse=True)
def _calls_allowed_by_policy() -> Iterator[None]:
    """Every AWS call the app makes in any test must be allowed by .chalice/policy-*.json."""
    from tests.policy import missing

    violations: list[str] = []

    def check(event_name: str, params: dict[str, Any], **_: Any) -> None:
        _, service, operation = event_name.split(".", 2)
        violations.extend(
            f"{service}.{operation} needs {a}" for a in sorted(missing(service, operation, params))
        )

    def hook(service: str, built: Any) -> None:
        built.meta.events.register("before-parameter-build.*.*", check)

    bootstrap.client_hooks.append(hook)
    yield
    bootstrap.client_hooks.remove(hook)
    assert not violations, f"AWS calls not allowed by the IAM policy files: {sorted(set(violations))}"


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    fake = FakeClock()
    bootstrap.override(clock=fake)
    return fake


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """moto with the stack of infra/template.yaml deployed through CloudFormation."""
    import boto3
    from moto import mock_aws

    from infra.resources import ensure_stack

    with mock_aws():
        settings = ensure_stack(boto3.session.Session(), "imgshelf-test", "imgshelf-test")
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        bootstrap.reset()
        yield settings


@pytest.fixture
def client(aws: dict[str, str]) -> Iterator[Any]:
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="test") as test_client:
        yield test_client


@dataclass
class AwsCalls:
    """Counts (and can fail) the AWS operations the app's clients make, via botocore events."""

    calls: list[str] = field(default_factory=list)
    failures: dict[str, Exception] = field(default_factory=dict)
    actions: dict[str, Any] = field(default_factory=dict)

    def _before_call(self, event_name: str, **_: Any) -> None:
        _, service, operation = event_name.split(".", 2)
        name = f"{service}.{operation}"
        self.calls.append(name)
        if name in self.failures:
            raise self.failures.pop(name)
        if name in self.actions:
            self.actions.pop(name)()

    def before(self, operation: str, action: Any) -> None:
        """Run `action` once, just before the next call of `operation` (to interleave events)."""
        self.actions[operation] = action

    def attach(self, *services: str) -> None:
        for service in services:
            bootstrap.client(service).meta.events.register("before-call.*.*", self._before_call)

    def reset(self) -> None:
        self.calls.clear()

    def count(self, prefix: str = "") -> int:
        return sum(1 for c in self.calls if c.startswith(prefix))

    def fail(self, operation: str, code: str = "InternalServerError") -> None:
        from botocore.exceptions import ClientError

        _service, op = operation.split(".")
        self.failures[operation] = ClientError({"Error": {"Code": code, "Message": "injected"}}, op)


@pytest.fixture
def aws_calls(aws: dict[str, str]) -> AwsCalls:
    counter = AwsCalls()
    counter.attach("dynamodb", "s3")
    return counter


@pytest.fixture
def api_key(aws: dict[str, str]) -> str:
    from chalicelib.services import applications

    return applications.create(name="tests", owner=None, callback="oob").api_key


def env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false")
