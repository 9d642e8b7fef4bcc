"""Accounts: registration, sign-in and sessions, password resets, settings, and a user's applications."""

from __future__ import annotations

import contextlib
import logging
import re

from chalicelib import bootstrap
from chalicelib.auth import passwords, tokens
from chalicelib.errors import BadRequest, Forbidden, LimitExceeded, NotFound, Unauthorized
from chalicelib.records import Application
from chalicelib.records.accounts import Account, EmailTaken, NameTaken
from chalicelib.services import applications

log = logging.getLogger("imgshelf.accounts")
mail_log = logging.getLogger("imgshelf.mail")

SESSION_COOKIE = "IMGURSESSION"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{3,32}$")
EMAIL_PATTERN = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9.-]{1,189}\.[A-Za-z]{2,63}$")
PRIVACY = ("public", "hidden", "secret")
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})
# Failed sign-ins per hour, counted in the credit ledger (one conditional write each).
SIGNIN_FAILED = "Invalid username or password"
RESET_INVALID = "This reset link is invalid or has expired"


class TooManySignIns(LimitExceeded):
    message = "Too many failed sign-ins, try again later"


def valid_password(password: str) -> str:
    if not passwords.MIN_LENGTH <= len(password) <= passwords.MAX_LENGTH:
        raise BadRequest(
            f"Passwords must be {passwords.MIN_LENGTH} to {passwords.MAX_LENGTH} characters long"
        )
    return password


def register(name: str, email: str, password: str) -> Account:
    """A new account; the user name and e-mail must both be free (one conditional transaction)."""
    name, email = name.strip(), email.strip()
    if not NAME_PATTERN.match(name):
        raise BadRequest("User names are 3 to 32 letters, digits, '-' or '_'")
    if len(email) > 254 or not EMAIL_PATTERN.match(email):
        raise BadRequest("That does not look like an e-mail address")
    account = Account(
        name=name,
        email=email,
        password_hash=passwords.hash_password(valid_password(password)),
        created=int(bootstrap.clock()()),
    )
    try:
        bootstrap.accounts().create_account(account)
    except NameTaken:
        raise BadRequest("That user name is taken") from None
    except EmailTaken:
        raise BadRequest("That e-mail address is already registered") from None
    return account


# Sign-in and sessions ----------------------------------------------------------------------
def _signin_buckets(name: str, source_ip: str) -> list[tuple[str, int]]:
    return [
        (f"signin:{name.lower()[:64]}", bootstrap.settings().signin_failures_per_name),
        (f"signin-ip:{source_ip}", bootstrap.settings().signin_failures_per_ip),
    ]


def sign_in(name: str, password: str, source_ip: str) -> tuple[Account, str]:
    """The account and a new session token; one message for every failure, known user or not."""
    name = name.strip()
    ledger = bootstrap.credit_ledger()
    buckets = _signin_buckets(name, source_ip)
    for bucket, limit in buckets:
        quota = ledger.charge(bucket, 0, limit)
        if quota.remaining == 0:
            retry = max(1, quota.reset - int(bootstrap.clock()()))
            raise TooManySignIns(headers={"Retry-After": str(retry)})
    account = bootstrap.accounts().account(name) if NAME_PATTERN.match(name) else None
    if account is None:
        passwords.verify_nothing(password)  # the same time as a real check
    elif passwords.verify_password(password, account.password_hash):
        return account, new_session(account)
    for bucket, limit in buckets:
        with contextlib.suppress(LimitExceeded):  # this failure hit the limit: the next is refused
            ledger.charge(bucket, 1, limit)
    raise Unauthorized(SIGNIN_FAILED)


def new_session(account: Account) -> str:
    return tokens.issue("session", account.name, ep=account.session_epoch)


def session_account(token: str | None) -> Account | None:
    """The account of a valid session token (not expired, not signed out); None otherwise."""
    claims = tokens.read("session", token or "")
    if claims is None:
        return None
    account = bootstrap.accounts().account(str(claims["sub"]))
    if account is None or claims.get("ep") != account.session_epoch:
        return None
    return account


def sign_out(account: Account) -> None:
    """Ends every session of the account (a new session epoch)."""
    bootstrap.accounts().end_sessions(account.name)


def cookie(name: str, value: str, max_age: int) -> str:
    secure = "; Secure" if bootstrap.settings().public_base_url.startswith("https://") else ""
    return f"{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"


def session_cookie(token: str) -> str:
    return cookie(SESSION_COOKIE, token, tokens.LIFETIMES["session"])


def limit_for(account: Account) -> int:
    settings = bootstrap.settings()
    return settings.credits_pro_per_hour if account.pro else settings.credits_user_per_hour


# Password reset ------------------------------------------------------------------------------
def _password_binding(account: Account) -> str:
    # A reset link dies with the password it was issued against.
    return tokens.binding(account.password_hash)[:32]


def forgot_password(identifier: str) -> None:
    """Mail a single-use reset link valid for an hour, if the account exists (the caller never learns)."""
    identifier = identifier.strip()
    records = bootstrap.accounts()
    if "@" in identifier:
        account = records.account_for_email(identifier) if len(identifier) <= 254 else None
    else:
        account = records.account(identifier) if NAME_PATTERN.match(identifier) else None
    if account is None:
        log.info("password reset asked for an unknown account")
        return
    token = tokens.issue("reset", account.name, pw=_password_binding(account))
    link = f"{bootstrap.settings().public_base_url}/reset?token={token}"
    send_mail(
        account.email,
        "Reset your imgshelf password",
        f"Hello {account.name},\n\nto choose a new password, open this link within an hour:\n\n{link}\n\n"
        "If you did not ask for this, ignore this message.\n",
    )


def reset_password(token: str, new_password: str) -> Account:
    claims = tokens.read("reset", token)
    if claims is None:
        raise BadRequest(RESET_INVALID)
    valid_password(new_password)
    records = bootstrap.accounts()
    account = records.account(str(claims["sub"]))
    if account is None or claims.get("pw") != _password_binding(account):
        raise BadRequest(RESET_INVALID)
    if not records.use_reset_token(str(claims["jti"]), int(claims["exp"])):
        raise BadRequest(RESET_INVALID)
    updated = records.set_password(account.name, passwords.hash_password(new_password))
    if updated is None:
        raise BadRequest(RESET_INVALID)
    return updated


def send_mail(to: str, subject: str, text: str) -> None:
    settings = bootstrap.settings()
    if settings.mail_mode == "ses":
        bootstrap.client("ses").send_email(
            Source=settings.mail_from,
            Destination={"ToAddresses": [to]},
            Message={"Subject": {"Data": subject}, "Body": {"Text": {"Data": text}}},
        )
        return
    mail_log.info("mail to %s from %s, %s\n%s", to, settings.mail_from, subject, text)


# Settings ------------------------------------------------------------------------------------
def _boolean(name: str, value: str | None) -> bool | None:
    if value is None:
        return None
    if value.lower() in TRUE_WORDS:
        return True
    if value.lower() in FALSE_WORDS:
        return False
    raise BadRequest(f"Invalid value for {name}")


def update_settings(
    account: Account, default_album_privacy: str | None, public_images: str | None
) -> Account:
    if default_album_privacy is not None and default_album_privacy not in PRIVACY:
        raise BadRequest("Invalid value for default_album_privacy")
    updated = bootstrap.accounts().update_settings(
        account.name,
        default_album_privacy=default_album_privacy,
        public_images=_boolean("public_images", public_images),
    )
    if updated is None:
        raise NotFound("No such account")
    return updated


def account_object(account: Account) -> dict[str, str]:
    """The v2 account object: booleans are the strings "true" and "false"."""
    return {
        "url": account.name,
        "is_pro": "true" if account.pro else "false",
        "default_album_privacy": account.default_album_privacy,
        "public_images": "true" if account.public_images else "false",
    }


# Applications ----------------------------------------------------------------------------------
def valid_callback(callback: str) -> str:
    callback = callback.strip() or "oob"
    if callback == "oob":
        return callback
    if len(callback) > 512 or not callback.lower().startswith(("http://", "https://")) or "#" in callback:
        raise BadRequest("The callback must be an http(s) URL without a fragment, or oob")
    return callback


def create_application(owner: Account, name: str, callback: str) -> Application:
    name = name.strip()
    if not 0 < len(name) <= 64:
        raise BadRequest("Application names are 1 to 64 characters long")
    app = applications.create(name=name, owner=owner.name, callback=valid_callback(callback))
    bootstrap.accounts().add_owned_application(owner.name, app.consumer_key, app.created)
    return app


def applications_of(owner: Account) -> list[Application]:
    return bootstrap.accounts().owned_applications(owner.name)


def revoke_application(owner: Account, consumer_key: str) -> None:
    """Revoked at once for OAuth; a warm container may accept the anonymous key a few minutes more."""
    records = bootstrap.accounts()
    app = records.application(consumer_key) if 0 < len(consumer_key) <= 64 else None
    if app is None or app.owner != owner.name:
        raise NotFound("No such application")
    if not records.revoke_application(owner.name, app):
        raise Forbidden()
