"""Response formats of the v2 API: suffix handling, the JSON and XML writers, the error envelope."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

JSON_TYPE = "application/json"  # exactly this: some v2 clients compare the whole header
XML_TYPE = "text/xml; charset=utf-8"
FORMATS = ("json", "xml")

# XML 1.0 allows tab, newline, carriage return and everything from U+0020 except surrogates and
# U+FFFE/U+FFFF; anything else would make the document ill-formed, so it is dropped.
_XML_FORBIDDEN = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True)
class Rendered:
    body: str
    content_type: str


def split_format(name: str, query_format: str | None = None, default: str = "xml") -> tuple[str, str]:
    """Split 'abc.json' into ('abc', 'json'); `?_format=` applies when there is no suffix."""
    stem, dot, suffix = name.rpartition(".")
    if dot and suffix.lower() in FORMATS:
        return stem, suffix.lower()
    if query_format and query_format.lower() in FORMATS:
        return name, query_format.lower()
    return name, default


def to_json(root: str, data: Any) -> Rendered:
    return Rendered(json.dumps({root: _plain(data)}, separators=(",", ":")), JSON_TYPE)


def to_xml(root: str, data: Any) -> Rendered:
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n']
    _xml_element(parts, root, data)
    return Rendered("".join(parts), XML_TYPE)


def render(fmt: str, root: str, data: Any) -> Rendered:
    return to_json(root, data) if fmt == "json" else to_xml(root, data)


def error_envelope(fmt: str, message: str, request_path: str, method: str, parameters: str) -> Rendered:
    return render(
        fmt,
        "error",
        {
            "message": message,
            "request": request_path,
            "method": method.lower(),
            "format": fmt,
            "parameters": parameters,
        },
    )


def xml_text(value: str) -> str:
    """Text safe inside an XML 1.0 element, whatever the user typed."""
    # A literal CR would be normalised to LF by every parser; the character reference survives.
    return escape(_XML_FORBIDDEN.sub("", value), {"\r": "&#13;"})


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _scalar(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def _xml_element(parts: list[str], tag: str, value: Any) -> None:
    tag = _TAG_UNSAFE.sub("_", tag) or "item"
    if tag[0].isdigit() or tag[0] in ".-":
        tag = "_" + tag
    if value is None or value == "" or (isinstance(value, (Mapping, list, tuple)) and not value):
        parts.append(f"<{tag}/>")
        return
    parts.append(f"<{tag}>")
    if isinstance(value, Mapping):
        for key, item in value.items():
            _xml_element(parts, str(key), item)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        for item in value:
            _xml_element(parts, "item", item)
    else:
        parts.append(xml_text(_scalar(value)))
    parts.append(f"</{tag}>")
