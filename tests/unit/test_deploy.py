"""The deploy script's testable parts: stage environment writing and the session secret (moto)."""

from __future__ import annotations

from infra.deploy import ensure_session_secret, update_stage_environment


def test_stage_environment_is_updated_without_touching_other_stages():
    config = {
        "stages": {
            "dev": {"environment_variables": {"A": "1"}},
            "prod": {"environment_variables": {"A": "2"}},
        }
    }
    updated = update_stage_environment(config, "dev", {"IMAGES_BUCKET_NAME": "b"})
    assert updated["stages"]["dev"]["environment_variables"] == {"A": "1", "IMAGES_BUCKET_NAME": "b"}
    assert updated["stages"]["prod"]["environment_variables"] == {"A": "2"}


def test_session_secret_is_made_once(aws):
    import boto3

    session = boto3.session.Session()
    name = ensure_session_secret(session, "dev")
    first = session.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    ensure_session_secret(session, "dev")
    again = session.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    assert first == again
    assert len(first) >= 32
