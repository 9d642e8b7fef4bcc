"""The admin command: accounts, applications and the pro flag, printed as JSON (against moto)."""

from __future__ import annotations

import io
import json

import pytest

from chalicelib import bootstrap
from chalicelib.auth import passwords
from infra import admin


def run(capsys, *argv: str) -> tuple[int, dict]:
    code = admin.main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out) if code == 0 else {}


def test_admin_creates_an_account_an_app_and_makes_it_pro(aws, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("from stdin password\n"))
    code, made = run(capsys, "create-account", "alice", "--email", "alice@example.test", "--password", "-")
    assert code == 0 and made == {"account": "alice", "email": "alice@example.test"}
    assert passwords.verify_password(
        "from stdin password", bootstrap.accounts().account("alice").password_hash
    )

    code, app = run(
        capsys, "create-app", "--owner", "alice", "--name", "Uploader", "--callback", "https://c.example/cb"
    )
    assert code == 0
    assert len(app["consumer_key"]) == 41 and len(app["consumer_secret"]) == 32 and len(app["api_key"]) == 32
    stored = bootstrap.accounts().application(app["consumer_key"])
    assert (stored.owner, stored.callback) == ("alice", "https://c.example/cb")
    assert [a.name for a in bootstrap.accounts().owned_applications("alice")] == ["Uploader"]

    assert run(capsys, "set-pro", "alice") == (0, {"account": "alice", "is_pro": True})
    assert bootstrap.accounts().account("alice").pro is True
    assert run(capsys, "set-pro", "alice", "--off")[1]["is_pro"] is False


def test_admin_reports_errors_without_a_traceback(aws, capsys):
    assert admin.main(["create-account", "x", "--email", "bad", "--password", "long enough"]) == 1
    assert "error:" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="no account named"):
        admin.main(["set-pro", "nobody"])


def test_admin_help_explains_the_local_stack(capsys):
    with pytest.raises(SystemExit):
        admin.main(["--help"])
    text = capsys.readouterr().out
    assert "--endpoint" in text and "imgshelf-local-records" in text and "embedded moto on" in text
