"""DynamoDB records of accounts and OAuth: accounts, e-mail pointers, tokens, nonces, owned applications."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from chalicelib.errors import ServiceUnavailable
from chalicelib.records import (
    THROTTLING_CODES,
    Application,
    Collision,
    DynamoRecords,
    _build,
    api_key_key,
    application_key,
    error_code,
    owner_partition,
    to_item,
)

BATCH_GET_LIMIT = 100


class NameTaken(Collision):
    """The user name is registered already."""


class EmailTaken(Collision):
    """The e-mail address belongs to another account."""


# Key builders: the only place where these key strings are spelled.
def account_key(name: str) -> dict[str, Any]:
    # User names are unique without regard to case: "Alice" and "alice" are one account.
    return {"pk": {"S": f"ACCT#{name.lower()}"}, "sk": {"S": "ACCT"}}


def email_key(email: str) -> dict[str, Any]:
    return {"pk": {"S": f"EMAIL#{email.lower()}"}, "sk": {"S": "EMAIL"}}


def request_token_key(token: str) -> dict[str, Any]:
    return {"pk": {"S": f"RTOK#{token}"}, "sk": {"S": "RTOK"}}


def access_token_key(token: str) -> dict[str, Any]:
    return {"pk": {"S": f"ATOK#{token}"}, "sk": {"S": "ATOK"}}


def nonce_key(consumer_key: str, token: str, timestamp: str, nonce: str) -> dict[str, Any]:
    # RFC 5849 3.3: a nonce is unique per (client, token, timestamp).
    return {"pk": {"S": f"NONCE#{consumer_key}#{token}#{timestamp}#{nonce}"}, "sk": {"S": "NONCE"}}


def reset_use_key(token_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"RESET#{token_id}"}, "sk": {"S": "RESET"}}


def owned_application_key(owner: str, consumer_key: str) -> dict[str, Any]:
    # A main-table item (not gsi1), so it can never show up in an owner's image listing.
    return {"pk": {"S": owner_partition(owner)}, "sk": {"S": f"APP#{consumer_key}"}}


@dataclass(frozen=True)
class Account:
    name: str  # as registered; the key is its lower-case form
    email: str
    password_hash: str
    created: int
    pro: bool = False
    default_album_privacy: str = "public"
    public_images: bool = False
    session_epoch: int = 0  # sessions issued under an older epoch are signed out


@dataclass(frozen=True)
class RequestToken:
    token: str
    secret: str
    consumer_key: str
    callback: str
    created: int
    expires_at: int
    account: str | None = None  # set when the user allows access
    verifier: str | None = None


@dataclass(frozen=True)
class AccessToken:
    token: str
    secret: str
    consumer_key: str
    account: str
    created: int


def _put(key: dict[str, Any], body: dict[str, Any], condition: str | None = None) -> dict[str, Any]:
    put: dict[str, Any] = {"Item": {**key, **to_item(body)}}
    if condition:
        put["ConditionExpression"] = condition
    return {"Put": put}


class DynamoAccounts(DynamoRecords):
    """Accounts and OAuth credentials in the records table (shares its helpers and key space)."""

    def _conditional(self, operation: str, **kwargs: Any) -> Any:
        """One conditional write; None when its condition fails."""
        try:
            return self._call(operation, **kwargs)
        except Exception as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return None
            raise

    def _batch_get(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for start in range(0, len(keys), BATCH_GET_LIMIT):
            chunk = keys[start : start + BATCH_GET_LIMIT]
            try:
                result = self._client.batch_get_item(
                    RequestItems={self._table: {"Keys": chunk, "ConsistentRead": True}}
                )
            except Exception as error:
                if error_code(error) in THROTTLING_CODES:
                    raise ServiceUnavailable(headers={"Retry-After": "1"}) from error
                raise
            if result.get("UnprocessedKeys"):  # only under throttling: fail closed, the caller retries
                raise ServiceUnavailable(headers={"Retry-After": "1"})
            items.extend(result.get("Responses", {}).get(self._table, []))
        return items

    # Accounts ------------------------------------------------------------------------------
    def create_account(self, account: Account) -> None:
        """Account and e-mail pointer in one transaction: NameTaken or EmailTaken if either exists."""
        try:
            self._transact(
                [
                    _put(
                        account_key(account.name),
                        {**asdict(account), "kind": "account"},
                        "attribute_not_exists(pk)",
                    ),
                    _put(
                        email_key(account.email),
                        {"account": account.name, "kind": "email"},
                        "attribute_not_exists(pk)",
                    ),
                ]
            )
        except Collision as collision:
            reasons = getattr(collision.__cause__, "response", {}).get("CancellationReasons", [])
            codes = [r.get("Code") for r in reasons] + [None, None]
            if codes[0] == "ConditionalCheckFailed":
                raise NameTaken() from collision
            if codes[1] == "ConditionalCheckFailed":
                raise EmailTaken() from collision
            raise

    def account(self, name: str) -> Account | None:
        item = self._call("get_item", Key=account_key(name), ConsistentRead=True).get("Item")
        return _build(Account, item) if item else None

    def account_for_email(self, email: str) -> Account | None:
        item = self._call("get_item", Key=email_key(email), ConsistentRead=True).get("Item")
        if not item:
            return None
        return self.account(item["account"]["S"])

    def _update_account(self, name: str, values: dict[str, Any], add_epoch: bool = False) -> Account | None:
        names = {f"#{k}": k for k in values}
        expression = "SET " + ", ".join(f"#{k} = :{k}" for k in values) if values else ""
        if add_epoch:
            names["#epoch"] = "session_epoch"
            expression += " ADD #epoch :one"
        attribute_values = {f":{k}": v for k, v in to_item(values).items()}
        if add_epoch:
            attribute_values[":one"] = {"N": "1"}
        result = self._conditional(
            "update_item",
            Key=account_key(name),
            UpdateExpression=expression.strip(),
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=attribute_values,
            ReturnValues="ALL_NEW",
        )
        return _build(Account, result["Attributes"]) if result else None

    def set_password(self, name: str, password_hash: str) -> Account | None:
        """New hash and a new session epoch: every existing session of the account ends."""
        return self._update_account(name, {"password_hash": password_hash}, add_epoch=True)

    def end_sessions(self, name: str) -> Account | None:
        return self._update_account(name, {}, add_epoch=True)

    def set_pro(self, name: str, pro: bool) -> Account | None:
        return self._update_account(name, {"pro": pro})

    def update_settings(self, name: str, **values: Any) -> Account | None:
        changes = {k: v for k, v in values.items() if v is not None}
        if not changes:
            return self.account(name)
        return self._update_account(name, changes)

    def use_reset_token(self, token_id: str, expires_at: int) -> bool:
        """Record a password-reset token as used; False if it was used before."""
        result = self._conditional(
            "put_item",
            Item={**reset_use_key(token_id), **to_item({"kind": "reset-used", "expires_at": expires_at})},
            ConditionExpression="attribute_not_exists(pk)",
        )
        return result is not None

    # Applications owned by accounts --------------------------------------------------------
    def application(self, consumer_key: str) -> Application | None:
        item = self._call("get_item", Key=application_key(consumer_key), ConsistentRead=True).get("Item")
        return _build(Application, item) if item else None

    def add_owned_application(self, owner: str, consumer_key: str, created: int) -> None:
        self._call(
            "put_item",
            Item={
                **owned_application_key(owner, consumer_key),
                **to_item({"kind": "owned-app", "consumer_key": consumer_key, "created": created}),
            },
        )

    def owned_applications(self, owner: str) -> list[Application]:
        """The owner's applications, newest first (one Query, then one BatchGetItem per 100)."""
        keys: list[dict[str, Any]] = []
        query: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :app)",
            "ExpressionAttributeValues": {":pk": {"S": owner_partition(owner)}, ":app": {"S": "APP#"}},
        }
        while True:
            page = self._call("query", **query)
            keys.extend(application_key(i["consumer_key"]["S"]) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        apps = [_build(Application, item) for item in self._batch_get(keys)] if keys else []
        return sorted((a for a in apps if a.owner == owner), key=lambda a: (-a.created, a.consumer_key))

    def revoke_application(self, owner: str, app: Application) -> bool:
        """Mark both the application and its API key revoked; False unless `owner` owns it."""
        condition = {
            "ConditionExpression": "#owner = :owner",
            "UpdateExpression": "SET revoked = :yes",
            "ExpressionAttributeNames": {"#owner": "owner"},
            "ExpressionAttributeValues": {":owner": {"S": owner}, ":yes": {"BOOL": True}},
        }
        try:
            self._transact(
                [
                    {"Update": {"Key": application_key(app.consumer_key), **condition}},
                    {"Update": {"Key": api_key_key(app.api_key), **condition}},
                ]
            )
        except Collision:
            return False
        return True

    # OAuth 1.0a ------------------------------------------------------------------------------
    def use_nonce(self, consumer_key: str, token: str, timestamp: str, nonce: str, expires_at: int) -> bool:
        """Remember a nonce until `expires_at`; False if it was seen (a replay).

        TTL deletion lags, so an expired record may still be there: it counts as unused.
        """
        result = self._conditional(
            "put_item",
            Item={
                **nonce_key(consumer_key, token, timestamp, nonce),
                **to_item({"kind": "nonce", "expires_at": expires_at}),
            },
            ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
            ExpressionAttributeValues={":now": {"N": str(int(self._clock()))}},
        )
        return result is not None

    def put_request_token(self, token: RequestToken) -> None:
        body = {**asdict(token), "kind": "request-token"}
        self._call(
            "put_item",
            Item={**request_token_key(token.token), **to_item(body)},
            ConditionExpression="attribute_not_exists(pk)",
        )

    def request_token(self, token: str) -> RequestToken | None:
        item = self._call("get_item", Key=request_token_key(token), ConsistentRead=True).get("Item")
        return _build(RequestToken, item) if item else None

    def authorize_request_token(self, token: str, account: str, verifier: str) -> bool:
        """Bind the approving account and the verifier, once, before the token expires."""
        result = self._conditional(
            "update_item",
            Key=request_token_key(token),
            UpdateExpression="SET #account = :account, verifier = :verifier",
            ConditionExpression=(
                "attribute_exists(pk) AND attribute_not_exists(verifier) AND expires_at > :now"
            ),
            ExpressionAttributeNames={"#account": "account"},
            ExpressionAttributeValues={
                ":account": {"S": account},
                ":verifier": {"S": verifier},
                ":now": {"N": str(int(self._clock()))},
            },
        )
        return result is not None

    def delete_request_token(self, token: str) -> None:
        self._call("delete_item", Key=request_token_key(token))

    def exchange_request_token(self, request_token: str, verifier: str, access: AccessToken) -> bool:
        """Consume the request token and store the access token atomically (single use, no race)."""
        try:
            self._transact(
                [
                    {
                        "Delete": {
                            "Key": request_token_key(request_token),
                            "ConditionExpression": "verifier = :verifier AND expires_at > :now",
                            "ExpressionAttributeValues": {
                                ":verifier": {"S": verifier},
                                ":now": {"N": str(int(self._clock()))},
                            },
                        }
                    },
                    _put(
                        access_token_key(access.token),
                        {**asdict(access), "kind": "access-token"},
                        "attribute_not_exists(pk)",
                    ),
                ]
            )
        except Collision:
            return False
        return True

    def access_token(self, token: str) -> AccessToken | None:
        item = self._call("get_item", Key=access_token_key(token), ConsistentRead=True).get("Item")
        return _build(AccessToken, item) if item else None

    def application_and_token(
        self, consumer_key: str, token: str, kind: str
    ) -> tuple[Application | None, RequestToken | AccessToken | None]:
        """The application and a request or access token in one read, whether or not either exists."""
        token_key = request_token_key(token) if kind == "request" else access_token_key(token)
        found: dict[str, dict[str, Any]] = {}
        for item in self._batch_get([application_key(consumer_key), token_key]):
            found[item["pk"]["S"]] = item
        app_item = found.get(application_key(consumer_key)["pk"]["S"])
        token_item = found.get(token_key["pk"]["S"])
        app = _build(Application, app_item) if app_item else None
        token_cls: type[RequestToken] | type[AccessToken] = RequestToken if kind == "request" else AccessToken
        return app, (_build(token_cls, token_item) if token_item else None)
