"""`make deploy STAGE=…`: the CloudFormation stack, its outputs into .chalice/config.json, chalice deploy."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

from infra.resources import ensure_stack

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".chalice" / "config.json"
DEPLOYABLE = ("dev", "prod")


def secret_parameter(stage: str) -> str:
    return f"/imgshelf/{stage}/session-secret"


def ensure_session_secret(session: Any, stage: str) -> str:
    """A SecureString made once per stage (CloudFormation cannot create SecureStrings)."""
    ssm = session.client("ssm")
    name = secret_parameter(stage)
    try:
        ssm.get_parameter(Name=name)
    except ssm.exceptions.ParameterNotFound:
        ssm.put_parameter(Name=name, Value=secrets.token_urlsafe(48), Type="SecureString")
    return name


def update_stage_environment(config: dict[str, Any], stage: str, values: dict[str, str]) -> dict[str, Any]:
    """Return the config with the stage's environment variables updated (a pure function, tested)."""
    stages = config.setdefault("stages", {})
    env = stages.setdefault(stage, {}).setdefault("environment_variables", {})
    env.update(values)
    return config


def deployed_api_url(stage: str) -> str | None:
    record = ROOT / ".chalice" / "deployed" / f"{stage}.json"
    if not record.exists():
        return None
    for resource in json.loads(record.read_text()).get("resources", []):
        if resource.get("resource_type") == "rest_api":
            return str(resource["rest_api_url"]).rstrip("/")
    return None


def chalice_deploy(stage: str, values: dict[str, str]) -> None:
    # app.py reads these when Chalice imports it, to subscribe the thumbnail and stats functions.
    env = {**os.environ, "IMAGES_BUCKET_NAME": values["IMAGES_BUCKET_NAME"]}
    env["RECORDS_STREAM_ARN"] = values["RECORDS_STREAM_ARN"]
    subprocess.run(
        [sys.executable, "-m", "chalice", "deploy", "--stage", stage], cwd=ROOT, env=env, check=True
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", choices=DEPLOYABLE, required=True)
    parser.add_argument("--public-base-url", default=os.environ.get("PUBLIC_BASE_URL", ""))
    args = parser.parse_args(argv)

    import boto3

    session = boto3.session.Session()
    prefix = f"imgshelf-{args.stage}"
    print(f"1/3 CloudFormation stack {prefix} from infra/template.yaml")
    values = ensure_stack(session, prefix, prefix)
    values["SESSION_SECRET_PARAMETER"] = ensure_session_secret(session, args.stage)
    values["MAIL_MODE"] = "ses"
    public = args.public_base_url or deployed_api_url(args.stage) or ""
    if public:
        values["PUBLIC_BASE_URL"] = public
    print(f"2/3 writing the stack outputs into .chalice/config.json (stage {args.stage})")
    config = update_stage_environment(json.loads(CONFIG.read_text()), args.stage, values)
    CONFIG.write_text(json.dumps(config, indent=2) + "\n")
    print(f"3/3 chalice deploy --stage {args.stage}")
    chalice_deploy(args.stage, values)
    url = deployed_api_url(args.stage)
    if url and not public:
        # The first deploy learns the API's URL; the app needs it to build links and OAuth base URLs.
        config = update_stage_environment(config, args.stage, {"PUBLIC_BASE_URL": url})
        CONFIG.write_text(json.dumps(config, indent=2) + "\n")
        chalice_deploy(args.stage, values)
    print(f"deployed: {url or '(see chalice output)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
