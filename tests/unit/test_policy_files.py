"""The committed IAM policies and the CloudFormation template are valid and least-privilege."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.policy import actions_for, allowed, missing

ROOT = Path(__file__).resolve().parents[2]


def test_policies_grant_no_wildcard_actions():
    for stage in ("dev", "prod"):
        policy = json.loads((ROOT / ".chalice" / f"policy-{stage}.json").read_text())
        for statement in policy["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert all("*" not in action for action in actions)
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            if statement["Sid"] not in ("Logs", "Mail"):
                assert all(f"imgshelf-{stage}" in r or f"imgshelf/{stage}" in r for r in resources)


def test_policy_check_recognises_a_missing_action():
    assert "dynamodb:Scan" not in allowed("prod")
    assert missing("dynamodb", "Scan", {}) == {"dynamodb:Scan"}
    assert actions_for(
        "dynamodb", "TransactWriteItems", {"TransactItems": [{"Put": {}}, {"Delete": {}}]}
    ) == {
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
    }


def test_chalice_config_has_the_three_stages_and_no_autogen_policy():
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    assert config["autogen_policy"] is False
    assert set(config["stages"]) == {"dev", "prod", "test"}


def test_template_passes_cfn_lint():
    cfn_lint = shutil.which("cfn-lint", path=str(Path(sys.executable).parent))
    if cfn_lint is None:
        pytest.skip("cfn-lint is not installed in this environment (it is in requirements-dev.txt)")
    result = subprocess.run(
        [cfn_lint, str(ROOT / "infra" / "template.yaml")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_template_blocks_public_access_and_encrypts():
    from cfnlint.decode import decode_str

    template, errors = decode_str((ROOT / "infra" / "template.yaml").read_text())
    assert not errors
    bucket = template["Resources"]["ImagesBucket"]["Properties"]
    # moto's CloudFormation does not apply these two, so the template itself is checked.
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    for table in ("RecordsTable", "CreditsTable"):
        assert (
            template["Resources"][table]["Properties"]["TimeToLiveSpecification"]["AttributeName"]
            == "expires_at"
        )


def test_template_deploys_into_moto_with_encryption_and_ttl(aws):
    import boto3

    s3 = boto3.client("s3")
    assert aws["IMAGES_BUCKET_NAME"] in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    ddb = boto3.client("dynamodb")
    table = ddb.describe_table(TableName=aws["RECORDS_TABLE_NAME"])["Table"]
    assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == {"gsi1", "gsi2"}
    for name in (aws["RECORDS_TABLE_NAME"], aws["CREDITS_TABLE_NAME"]):
        ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        assert ttl["TimeToLiveStatus"] == "ENABLED"
        assert ttl["AttributeName"] == "expires_at"
