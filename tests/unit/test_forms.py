"""Parameters from the query string and every body kind, as v2 clients send them."""

from __future__ import annotations

import pytest

from chalicelib.errors import BadRequest, PayloadTooLarge
from chalicelib.forms import parse, split_list
from tests.images import multipart


def test_query_and_urlencoded_body_merge_with_body_winning():
    params = parse(
        [("key", "k1"), ("title", "q")], "application/x-www-form-urlencoded", b"title=b&caption=c", 10_000
    )
    assert params.get("key") == "k1"
    assert params.get("title") == "b"
    assert params.get("caption") == "c"


def test_none_and_empty_mean_absent():
    params = parse([("title", "None"), ("caption", "")], "", b"", 100)
    assert params.get("title") is None
    assert params.get("caption") is None


def test_repeated_parameter_takes_the_value_that_fits():
    params = parse([("url", "http://a.test/x.png"), ("url", "junk")], "", b"", 100)
    assert params.get("url", fits=lambda v: v.startswith("http")) == "http://a.test/x.png"


def test_multipart_file_keeps_only_the_base_name():
    content_type, body = multipart({"type": "file"}, {"image": ("C:\\Users\\me\\cat.png", b"\x89PNG data")})
    params = parse([], content_type, body, 10_000)
    upload = params.file("image")
    assert upload is not None
    assert upload.filename == "cat.png"
    assert upload.data == b"\x89PNG data"
    assert params.get("type") == "file"


def test_raw_body_is_kept_for_other_types():
    params = parse([("key", "k")], "application/octet-stream", b"\x00\x01", 100)
    assert params.raw_body == b"\x00\x01"
    assert params.raw_content_type == "application/octet-stream"


def test_oversized_body_is_refused_before_parsing():
    with pytest.raises(PayloadTooLarge):
        parse([], "multipart/form-data; boundary=x", b"x" * 101, 100)


def test_broken_multipart_is_a_bad_request():
    with pytest.raises(BadRequest):
        parse([], "multipart/form-data", b"--x\r\nnonsense", 1000)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a,b", ["a", "b"]),
        ("(a,b)", ["a", "b"]),
        ("('',a)", ["a"]),
        ("( a , None ,b )", ["a", "b"]),
        ("", []),
    ],
)
def test_lists_accept_every_v2_spelling(raw, expected):
    assert split_list(raw) == expected


def test_flags_accept_true_spellings():
    params = parse([("a", "True"), ("b", "1"), ("c", "false")], "", b"", 100)
    assert params.flag("a") and params.flag("b") and not params.flag("c")


def test_describe_hides_secrets_and_image_bytes_and_cuts_long_values():
    params = parse(
        [
            ("password", "hunter2"),
            ("image", "iVBORw0KGgo" * 10),
            ("title", "t" * 50),
            ("url", "http://x.test/a.png"),
        ],
        "",
        b"",
        10_000,
    )
    text = params.describe()
    assert "hunter2" not in text
    assert "iVBOR" not in text
    assert f"title = {'t' * 32}..." in text
