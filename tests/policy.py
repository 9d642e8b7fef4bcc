"""Checks each AWS call the app makes against the committed least-privilege IAM policies."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Transactions and batches are authorised per item action, not by their own name.
TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
IAM_NAME = {"DeleteObjects": "DeleteObject", "HeadObject": "GetObject", "ListObjectsV2": "ListBucket"}


@cache
def allowed(stage: str) -> frozenset[str]:
    policy = json.loads((ROOT / ".chalice" / f"policy-{stage}.json").read_text())
    actions: set[str] = set()
    for statement in policy["Statement"]:
        if statement["Effect"] == "Allow":
            listed = statement["Action"]
            actions.update([listed] if isinstance(listed, str) else listed)
    return frozenset(actions)


def actions_for(service: str, operation: str, params: dict[str, Any]) -> set[str]:
    prefix = {"dynamodb": "dynamodb", "s3": "s3", "ses": "ses", "ssm": "ssm", "sesv2": "ses"}[service]
    if operation == "TransactWriteItems":
        return {f"dynamodb:{TRANSACT_ACTIONS[next(iter(i))]}" for i in params.get("TransactItems", [])}
    if operation == "SendEmail":
        return {"ses:SendEmail"}
    return {f"{prefix}:{IAM_NAME.get(operation, operation)}"}


def missing(service: str, operation: str, params: dict[str, Any]) -> set[str]:
    needed = actions_for(service, operation, params)
    return {a for a in needed if not all(a in allowed(stage) for stage in ("dev", "prod"))}
