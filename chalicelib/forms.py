"""Request parameters: query string, urlencoded, multipart and JSON bodies merged (body wins)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from chalicelib.errors import BadRequest, PayloadTooLarge

FORM_TYPE = "application/x-www-form-urlencoded"
MULTIPART_TYPE = "multipart/form-data"
# Values that mean "absent": old clients send Python's None or empty strings for unset fields.
ABSENT = frozenset({"", "None", "null"})
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
# Parameters never echoed back in an error envelope.
SECRET_NAMES = frozenset({"password", "new_password", "oauth_signature", "csrf", "token"})
ENVELOPE_VALUE_CHARS = 32


@dataclass(frozen=True)
class UploadedFile:
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class Params:
    """The merged parameters of one request."""

    values: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, list[UploadedFile]] = field(default_factory=dict)
    raw_body: bytes = b""
    raw_content_type: str = ""

    def get(self, name: str, fits: Callable[[str], bool] | None = None) -> str | None:
        """The value of `name`; with several, the last one that `fits` (None means absent)."""
        candidates = [v for v in self.values.get(name, []) if v.strip() not in ABSENT]
        if fits is not None:
            fitting = [v for v in candidates if fits(v.strip())]
            candidates = fitting or candidates
        return candidates[-1].strip() if candidates else None

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.get(name)
        return default if value is None else value.lower() in TRUE_WORDS

    def integer(self, name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
        value = self.get(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise BadRequest(f"Invalid value for {name}") from None
        if number < minimum or (maximum is not None and number > maximum):
            raise BadRequest(f"Invalid value for {name}")
        return number

    def items(self, name: str) -> list[str]:
        """A list parameter: `a,b`, `(a,b)` and `('',a)` all give ['a', 'b'] / ['a']."""
        value = self.get(name)
        if value is None:
            return []
        return split_list(value)

    def file(self, name: str) -> UploadedFile | None:
        found = self.files.get(name)
        return found[-1] if found else None

    def describe(self) -> str:
        """`name = value` pairs for the error envelope: short, never secrets or image bytes."""
        pairs = []
        for name, values in self.values.items():
            if name in SECRET_NAMES or "secret" in name or not values:
                continue
            value = values[-1]
            if name == "image" and not value.startswith(("http://", "https://")):
                value = "(image data)"
            if len(value) > ENVELOPE_VALUE_CHARS:
                value = value[:ENVELOPE_VALUE_CHARS] + "..."
            pairs.append(f"{name} = {value}")
        pairs.extend(f"{name} = (file)" for name in self.files)
        return ", ".join(pairs)


def split_list(value: str) -> list[str]:
    inner = value.strip()
    if inner.startswith("(") and inner.endswith(")"):
        inner = inner[1:-1]
    parts = (p.strip().strip("'\"").strip() for p in inner.split(","))
    return [p for p in parts if p and p not in ABSENT]


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def parse(query: Iterable[tuple[str, str]], content_type: str, body: bytes, max_body_bytes: int) -> Params:
    """Merge query and body parameters; refuse an oversized body before parsing it."""
    if len(body) > max_body_bytes:
        raise PayloadTooLarge()
    params = Params()
    for name, value in query:
        params.values.setdefault(name, []).append(value)
    kind = media_type(content_type)
    if not body:
        return params
    if kind == FORM_TYPE:
        _merge(params, parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    elif kind == MULTIPART_TYPE:
        _parse_multipart(params, content_type, body, max_body_bytes)
    elif kind == "application/json" and body.lstrip()[:1] == b"{":
        _merge(params, _json_pairs(body))
    else:
        params.raw_body = body
        params.raw_content_type = kind
    return params


def _merge(params: Params, pairs: Iterable[tuple[str, str]]) -> None:
    # Body values come after query values, so `get` (the last value) lets the body win while
    # `fits` can still pick a query value that suits better.
    for name, value in pairs:
        params.values.setdefault(name, []).append(value)


def _json_pairs(body: bytes) -> list[tuple[str, str]]:
    try:
        document = json.loads(body)
    except ValueError:
        raise BadRequest("The JSON body could not be parsed") from None
    pairs = []
    for name, value in document.items():
        if isinstance(value, list):
            pairs.append((name, ",".join(str(v) for v in value)))
        elif isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        elif value is not None:
            pairs.append((name, str(value)))
    return pairs


def _parse_multipart(params: Params, content_type: str, body: bytes, limit: int) -> None:
    import multipart  # imported here: only form posts pay for it

    boundary = None
    for option in content_type.split(";")[1:]:
        key, _, value = option.strip().partition("=")
        if key.lower() == "boundary":
            boundary = value.strip().strip('"')
    if not boundary:
        raise BadRequest("The multipart body has no boundary")
    pairs: list[tuple[str, str]] = []
    try:
        parser = multipart.MultipartParser(
            io.BytesIO(body),
            boundary,
            content_length=len(body),
            part_limit=64,
            partsize_limit=limit,
            memory_limit=limit,
            spool_limit=limit,
            disk_limit=0,
            memfile_limit=limit,
        )
        for part in parser:
            if part.filename is not None:
                data = part.raw
                params.files.setdefault(part.name, []).append(
                    UploadedFile(_base_name(part.filename), part.content_type or None, data)
                )
            else:
                pairs.append((part.name, part.value))
    except multipart.MultipartError as error:
        raise BadRequest("The multipart body could not be parsed") from error
    _merge(params, pairs)


def _base_name(filename: str) -> str:
    """Old clients send full paths (C:\\Users\\me\\cat.png); keep the last component."""
    return filename.replace("\\", "/").rsplit("/", 1)[-1]
