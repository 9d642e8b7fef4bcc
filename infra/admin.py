"""Administration from the command line: create accounts and applications, make an account pro."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

EPILOG = """\
The command talks to whatever the environment points at: AWS credentials and region as usual,
RECORDS_TABLE_NAME and CREDITS_TABLE_NAME for the tables, AWS_ENDPOINT_URL for another endpoint.

Against the local stack (`make run`): it prints "embedded moto on http://127.0.0.1:PORT" when it
starts; pass that URL as --endpoint (the tables are then imgshelf-local-records and
imgshelf-local-credits unless the variables say otherwise), for example

  MOTO=http://127.0.0.1:PORT
  python -m infra.admin --endpoint $MOTO create-account alice --email a@example.com --password -
  python -m infra.admin --endpoint $MOTO create-app --owner alice --name "My app" --callback oob
  python -m infra.admin --endpoint $MOTO set-pro alice

`--password -` reads the password from standard input; without --password it is asked for.
Each command prints JSON with what it made, keys and secrets included: keep the output private.
"""

LOCAL_TABLES = {
    "RECORDS_TABLE_NAME": "imgshelf-local-records",
    "CREDITS_TABLE_NAME": "imgshelf-local-credits",
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m infra.admin",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--endpoint", help="an AWS-compatible endpoint, e.g. the local stack's moto URL")
    commands = top.add_subparsers(dest="command", required=True)
    account = commands.add_parser("create-account", help="register an account")
    account.add_argument("name")
    account.add_argument("--email", required=True)
    account.add_argument("--password", help="the password, or - to read it from standard input")
    app = commands.add_parser("create-app", help="register an application owned by an account")
    app.add_argument("--owner", required=True, help="the owning account's user name")
    app.add_argument("--name", required=True)
    app.add_argument("--callback", default="oob", help="the OAuth callback URL prefix, or oob (default)")
    pro = commands.add_parser("set-pro", help="make an account pro (higher credit limit)")
    pro.add_argument("name")
    pro.add_argument("--off", action="store_true", help="make it a standard account again")
    return top


def _point_at(endpoint: str | None) -> None:
    if not endpoint:
        return
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    for name, value in {
        **LOCAL_TABLES,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
    }.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def _password(value: str | None) -> str:
    if value == "-":
        return sys.stdin.readline().rstrip("\n")
    return value if value is not None else getpass.getpass("Password: ")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from chalicelib import bootstrap
    from chalicelib.services import accounts

    records = bootstrap.accounts()
    if args.command == "create-account":
        account = accounts.register(args.name, args.email, _password(args.password))
        return {"account": account.name, "email": account.email}
    owner_name = args.owner if args.command == "create-app" else args.name
    owner = records.account(owner_name)
    if owner is None:
        raise SystemExit(f"no account named {owner_name!r}")
    if args.command == "create-app":
        app = accounts.create_application(owner, args.name, args.callback)
        return {
            "name": app.name,
            "owner": app.owner,
            "callback": app.callback,
            "api_key": app.api_key,
            "consumer_key": app.consumer_key,
            "consumer_secret": app.consumer_secret,
        }
    updated = records.set_pro(owner.name, not args.off)
    assert updated is not None
    return {"account": updated.name, "is_pro": updated.pro}


def main(argv: Sequence[str] | None = None) -> int:
    from chalicelib.errors import ImgshelfError

    args = parser().parse_args(argv)
    _point_at(args.endpoint)
    try:
        result = run(args)
    except ImgshelfError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
