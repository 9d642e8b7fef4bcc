"""HTML pages: a Jinja2 environment (autoescaped, loaded on first use) and the security headers."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).with_name("templates")
HTML_TYPE = "text/html; charset=utf-8"
SECURITY_HEADERS: dict[str, str | list[str]] = {
    "Content-Type": HTML_TYPE,
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob: https: http:; style-src 'self'; "
        "script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@cache
def _environment() -> Any:
    import jinja2  # only HTML requests pay for the import

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def base_path() -> str:
    """The path part of PUBLIC_BASE_URL ('/api' on an execute-api URL, '' on a domain of its own).

    Pages link and redirect within the site through it, so they work under a stage prefix too.
    """
    from urllib.parse import urlsplit

    from chalicelib import bootstrap

    return urlsplit(bootstrap.settings().public_base_url).path.rstrip("/")


def site_path(path: str) -> str:
    return base_path() + path if path.startswith("/") else path


def render_page(template: str, **context: Any) -> str:
    return str(_environment().get_template(template).render(base=base_path(), **context))
