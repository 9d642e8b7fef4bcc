"""scrypt password hashes: per-user salts, stored parameters, constant-time checks, bad input."""

from __future__ import annotations

import base64

import pytest

from chalicelib.auth import passwords


def test_password_hash_verifies_and_carries_its_parameters():
    stored = passwords.hash_password("correct horse battery")
    scheme, n, r, p, salt, key = stored.split("$")
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", passwords.N, passwords.R, passwords.P)
    assert len(base64.b64decode(salt)) == passwords.SALT_BYTES
    assert len(base64.b64decode(key)) == passwords.KEY_BYTES
    assert passwords.verify_password("correct horse battery", stored)
    assert not passwords.verify_password("correct horse batterY", stored)


def test_password_hashes_of_one_password_differ_by_salt():
    first, second = passwords.hash_password("same password"), passwords.hash_password("same password")
    assert first != second
    assert first.split("$")[4] != second.split("$")[4]
    assert passwords.verify_password("same password", first)
    assert passwords.verify_password("same password", second)


def test_password_check_follows_the_stored_parameters():
    import hashlib

    salt = b"0123456789abcdef"
    key = hashlib.scrypt(b"older setting", salt=salt, n=2**10, r=8, p=1, dklen=32)
    stored = f"scrypt$1024$8$1${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"
    assert passwords.verify_password("older setting", stored)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain",
        "scrypt$x$8$1$AAAA$AAAA",
        "md5$16384$8$1$AAAA$AAAA",
        "scrypt$3$8$1$AAAA$AAAA",
        "scrypt$16384$8$1$!!$AAAA",
    ],
)
def test_malformed_stored_hash_never_matches(stored):
    assert passwords.verify_password("anything", stored) is False


def test_unknown_user_check_spends_a_real_verification():
    assert passwords.verify_nothing("whatever") is False
