"""Password hashing with scrypt: a random salt per hash, the parameters stored with it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import cache

SCHEME = "scrypt"
# n=2**14, r=8 is the interactive-login setting of the scrypt paper: ~16 MiB and tens of ms.
N, R, P = 2**14, 8, 1
SALT_BYTES = 16
KEY_BYTES = 32
MAX_MEMORY = 64 * 1024 * 1024
MIN_LENGTH = 8
MAX_LENGTH = 1024  # scrypt takes any length, but nobody needs a megabyte password


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(password: str, salt: bytes, *, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=MAX_MEMORY)


def hash_password(password: str) -> str:
    """`scrypt$n$r$p$salt$key` (base64): everything needed to check it later, even after a change of N."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, n=N, r=R, p=P, length=KEY_BYTES)
    return f"{SCHEME}${N}${R}${P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """True if `password` matches; a malformed stored value never matches (and never raises)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        expected = base64.b64decode(key, validate=True)
        if scheme != SCHEME or not 0 < len(expected) <= 64 or int(n) > 2**20:
            return False
        salt_bytes = base64.b64decode(salt, validate=True)
        derived = _derive(
            password[:MAX_LENGTH], salt_bytes, n=int(n), r=int(r), p=int(p), length=len(expected)
        )
    except ValueError:
        return False
    return hmac.compare_digest(derived, expected)


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def verify_nothing(password: str) -> bool:
    """Spend the time of a real check (for unknown users, so timing does not tell them apart)."""
    verify_password(password, _dummy_hash())
    return False
