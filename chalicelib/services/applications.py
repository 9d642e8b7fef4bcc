"""Applications: the anonymous API key, the OAuth consumer key and secret, the callback."""

from __future__ import annotations

import secrets

from chalicelib import bootstrap
from chalicelib.records import Application, Collision


def create(name: str, owner: str | None, callback: str, api_key: str | None = None) -> Application:
    """Register an application; key formats follow what Imgur v2 issued (hex, 32/41/32 chars)."""
    for _ in range(3):
        app = Application(
            consumer_key=secrets.token_hex(21)[:41],
            consumer_secret=secrets.token_hex(16),
            api_key=api_key or secrets.token_hex(16),
            name=name,
            callback=callback,
            owner=owner,
            created=int(bootstrap.clock()()),
        )
        try:
            bootstrap.records().put_application(app)
            return app
        except Collision:
            if api_key:
                raise
    raise Collision("could not allocate application keys")
