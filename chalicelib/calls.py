"""What the services know about one API call: its parameters, its caller and its format."""

from __future__ import annotations

from dataclasses import dataclass, field
from http.cookies import SimpleCookie

from chalicelib.credits import Quota
from chalicelib.forms import Params


@dataclass(frozen=True)
class Caller:
    """Who pays for a call: the credit bucket and, when signed in, the account."""

    bucket: str
    limit: int
    account: str | None = None
    consumer_key: str | None = None
    via: str = "ip"  # ip | key | site | oauth | session


@dataclass
class Call:
    """One HTTP request as the services see it, framework-neutral."""

    method: str
    path: str
    fmt: str
    params: Params
    headers: dict[str, str]  # lower-case names
    source_ip: str
    query: list[tuple[str, str]] = field(default_factory=list)  # the query string's own pairs
    body: bytes = b""
    caller: Caller | None = None
    quota: Quota | None = None  # the caller's bucket after this call's charge
    extra_headers: dict[str, str] = field(default_factory=dict)

    def cookie(self, name: str) -> str | None:
        raw = self.headers.get("cookie")
        if not raw:
            return None
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(raw)
        except Exception:  # a malformed Cookie header is the client's problem, not a 500
            return None
        morsel = jar.get(name)
        return morsel.value if morsel else None
