"""R24: prepare() survives mutated seed images with only its own 400 errors, no crash and no hang."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from chalicelib.errors import InvalidImage, UnsupportedFileType
from chalicelib.imaging import ImageTooLarge, PreparedImage, prepare
from tests.unit.test_imaging_samples import animated_gif, apng, camera_jpeg, encode, picture, tagged_png, xcf

MAX = 1_000_000
# IMAGING_FUZZ_EXAMPLES=20000 runs a longer, random campaign locally; CI runs a fixed, short one
# (derandomised, so a red build always names a reproducible input).
CAMPAIGN = os.environ.get("IMAGING_FUZZ_EXAMPLES")
EXAMPLES = int(CAMPAIGN or 150)
# One prepare() of these small seeds takes milliseconds; anything near this is a hang in waiting.
SLOW = 2.0


@cache
def seeds() -> dict[str, bytes]:
    small = picture((48, 32))
    return {
        "jpeg": camera_jpeg(orientation=6, size=(48, 32)),
        "progressive jpeg": encode(small, "JPEG", progressive=True),
        "png": tagged_png(small),
        "palette png": encode(small.convert("P"), "PNG"),
        "apng": apng(3, (24, 16)),
        "gif": animated_gif(3, (24, 16)),
        "tiff": encode(small, "TIFF", compression="tiff_lzw"),
        "bmp": encode(small, "BMP"),
        "rle bmp": encode(small.convert("P"), "BMP", compression=1) if _bmp_rle() else encode(small, "BMP"),
        "pdf": encode(small, "PDF"),
        "xcf": xcf((24, 16), [(picture((24, 16)), 0, 0)]),
    }


def _bmp_rle() -> bool:
    try:
        encode(Image.new("P", (2, 2)), "BMP", compression=1)
    except (OSError, ValueError, TypeError):
        return False
    return True


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(seeds()[draw(st.sampled_from(sorted(seeds())))])
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(data)))
        kind = draw(
            st.sampled_from(["flip", "byte", "word", "truncate", "insert", "delete", "repeat", "splice"])
        )
        if kind == "flip" and pos < len(data):
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte" and pos < len(data):
            data[pos] = draw(st.sampled_from([0x00, 0x01, 0x7F, 0x80, 0xFF]))
        elif kind == "word":
            # Sizes, lengths and offsets are where parsers go wrong: write an extreme value.
            data[pos : pos + 4] = draw(st.sampled_from([b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", bytes(4)]))
        elif kind == "truncate":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif kind == "repeat":
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 256))] * draw(st.integers(2, 8))
        elif kind == "splice":
            # Another format's bytes from some point on: how polyglots are made.
            other = seeds()[draw(st.sampled_from(sorted(seeds())))]
            data[pos:] = other[draw(st.integers(0, len(other))) :]
    return bytes(data)


@settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=5),
    derandomize=CAMPAIGN is None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(mutated())
def test_prepare_survives_mutated_images(data: bytes) -> None:
    started = time.perf_counter()
    try:
        result = prepare(data, max_pixels=MAX)
    except (UnsupportedFileType, InvalidImage, ImageTooLarge):
        assert time.perf_counter() - started < SLOW
        return
    assert time.perf_counter() - started < SLOW
    assert isinstance(result, PreparedImage)
    assert result.ext in ("jpg", "png", "gif")
    assert 0 < result.width * result.height <= MAX
    # What is stored is itself a clean upload: preparing it again accepts it unchanged in size.
    again = prepare(result.data, max_pixels=MAX)
    assert (again.width, again.height, again.ext) == (result.width, result.height, result.ext)


def test_prepare_seeds_are_all_accepted() -> None:
    for name, data in seeds().items():
        assert prepare(data, max_pixels=MAX).width > 0, name
