"""Creates the stack of infra/template.yaml (in AWS or moto) and reads its outputs as settings."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).with_name("template.yaml")
OUTPUT_SETTINGS = {
    "ImagesBucketName": "IMAGES_BUCKET_NAME",
    "RecordsTableName": "RECORDS_TABLE_NAME",
    "CreditsTableName": "CREDITS_TABLE_NAME",
    "RecordsStreamArn": "RECORDS_STREAM_ARN",
}


def ensure_stack(session: Any, stack_name: str, prefix: str, *, wait_seconds: float = 600) -> dict[str, str]:
    """Create or update the stack and return the settings its outputs define."""
    cfn = session.client("cloudformation")
    body = TEMPLATE.read_text()
    parameters = [{"ParameterKey": "Prefix", "ParameterValue": prefix}]
    try:
        cfn.describe_stacks(StackName=stack_name)
        exists = True
    except cfn.exceptions.ClientError:
        exists = False
    if not exists:
        cfn.create_stack(StackName=stack_name, TemplateBody=body, Parameters=parameters)
    else:
        try:
            cfn.update_stack(StackName=stack_name, TemplateBody=body, Parameters=parameters)
        except cfn.exceptions.ClientError as error:
            if "No updates are to be performed" not in str(error):
                raise
    stack = _wait(cfn, stack_name, wait_seconds)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    settings = {OUTPUT_SETTINGS[k]: v for k, v in outputs.items() if k in OUTPUT_SETTINGS}
    # CloudFormation in moto ignores TimeToLiveSpecification; switching it on again is harmless on AWS.
    ddb = session.client("dynamodb")
    for name in (settings["RECORDS_TABLE_NAME"], settings["CREDITS_TABLE_NAME"]):
        status = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if status.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            ddb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
            )
    return settings


def _wait(cfn: Any, stack_name: str, wait_seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + wait_seconds
    while True:
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        status = stack["StackStatus"]
        if status.endswith("_COMPLETE") and "ROLLBACK" not in status:
            return stack
        if status.endswith(("_FAILED", "ROLLBACK_COMPLETE")) or time.monotonic() > deadline:
            raise RuntimeError(f"stack {stack_name} ended in {status}")
        time.sleep(2)
