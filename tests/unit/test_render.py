"""The v2 JSON and XML writers: shapes, string booleans, empty elements, well-formedness."""

from __future__ import annotations

import json

from defusedxml import ElementTree
from hypothesis import given
from hypothesis import strategies as st

from chalicelib import render


def test_split_format_reads_suffix_then_query_then_defaults_to_xml():
    assert render.split_format("abc.json") == ("abc", "json")
    assert render.split_format("abc.XML") == ("abc", "xml")
    assert render.split_format("abc", "json") == ("abc", "json")
    assert render.split_format("abc") == ("abc", "xml")
    assert render.split_format("abc.png") == ("abc.png", "xml")


def test_json_has_one_root_and_exact_content_type():
    out = render.to_json("upload", {"image": {"hash": "abc", "animated": "false"}})
    assert out.content_type == "application/json"
    assert json.loads(out.body) == {"upload": {"image": {"hash": "abc", "animated": "false"}}}


def test_xml_lists_become_items_and_empty_values_empty_elements():
    out = render.to_xml("images", [{"hash": "a", "title": None}, {"hash": "b", "title": ""}])
    assert out.body.startswith('<?xml version="1.0" encoding="utf-8"?>\n')
    root = ElementTree.fromstring(out.body.encode())
    assert root.tag == "images"
    items = root.findall("item")
    assert [i.findtext("hash") for i in items] == ["a", "b"]
    assert "<title/>" in out.body


def test_xml_booleans_are_strings():
    out = render.to_xml("account", {"is_pro": False, "public_images": True})
    root = ElementTree.fromstring(out.body.encode())
    assert root.findtext("is_pro") == "false"
    assert root.findtext("public_images") == "true"


def test_error_envelope_fields():
    out = render.error_envelope("json", "Not found", "/2/image/x.json", "GET", "key = abc")
    assert json.loads(out.body) == {
        "error": {
            "message": "Not found",
            "request": "/2/image/x.json",
            "method": "get",
            "format": "json",
            "parameters": "key = abc",
        }
    }


@given(st.text())
def test_xml_is_well_formed_whatever_the_text(text):
    out = render.to_xml("image", {"title": text, "caption": f"]]>{text}<!--", "tags": [text]})
    root = ElementTree.fromstring(out.body.encode("utf-8"))
    title = root.findtext("title") or ""
    # Only characters XML 1.0 cannot carry are dropped; everything else round-trips exactly.
    assert title == render._XML_FORBIDDEN.sub("", text)
