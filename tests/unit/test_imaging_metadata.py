"""Privacy (R11): stored bytes carry no EXIF, GPS, XMP, IPTC, comments or text; orientation is applied
first; untouched JPEGs keep their compressed data; ICC profiles stay."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image

from chalicelib.imaging import prepare
from tests.unit.test_imaging_samples import (
    CANARIES,
    FORBIDDEN,
    animated_gif,
    apng,
    camera_jpeg,
    difference,
    encode,
    exif_block,
    open_image,
    picture,
    png_chunks,
    srgb_profile,
    tagged_png,
    xcf,
)

MAX = 50_000_000


def _tagged_tiff(orientation: int = 1) -> bytes:
    return encode(picture(), "TIFF", exif=exif_block(orientation), icc_profile=srgb_profile())


SOURCES = {
    "jpeg": camera_jpeg,
    "rotated jpeg": lambda: camera_jpeg(orientation=6),
    "progressive jpeg": lambda: camera_jpeg(progressive=True),
    "png": tagged_png,
    "rotated png": lambda: tagged_png(orientation=8),
    "apng": lambda: apng(3),
    "gif": lambda: animated_gif(3),
    "tiff": _tagged_tiff,
    "rotated tiff": lambda: _tagged_tiff(orientation=6),
    "bmp": lambda: encode(picture(), "BMP"),
    "pdf": lambda: encode(picture(), "PDF", title="secret-caption", author="SnoopCam"),
    "xcf": lambda: xcf((40, 30), [(picture((40, 30)), 0, 0)]),
}


@pytest.mark.parametrize("name", SOURCES)
def test_prepare_output_carries_no_metadata(name: str) -> None:
    stored = prepare(SOURCES[name](), max_pixels=MAX).data
    for needle in FORBIDDEN + CANARIES:
        assert needle not in stored, needle
    assert b"<x:xmpmeta" not in stored


def _scan_data(jpeg: bytes) -> bytes:
    """The entropy-coded scans: from the first SOS to the end of the image."""
    end = jpeg.rindex(b"\xff\xd9") + 2
    return jpeg[jpeg.index(b"\xff\xda") : end]


@pytest.mark.parametrize("progressive", [False, True])
def test_prepare_keeps_jpeg_scan_data_byte_for_byte(progressive: bool) -> None:
    source = camera_jpeg(size=(640, 480), progressive=progressive)
    stored = prepare(source, max_pixels=MAX).data
    assert _scan_data(stored) == _scan_data(source)
    assert len(stored) < len(source)


def test_prepare_keeps_jpeg_tables_and_jfif() -> None:
    source = open_image(camera_jpeg())
    stored = open_image(prepare(camera_jpeg(), max_pixels=MAX).data)
    assert stored.quantization == source.quantization  # type: ignore[attr-defined]
    assert "jfif" in stored.info
    assert "exif" not in stored.info and "comment" not in stored.info


@pytest.mark.parametrize(
    ("orientation", "transpose"),
    [(3, Image.Transpose.ROTATE_180), (6, Image.Transpose.ROTATE_270), (8, Image.Transpose.ROTATE_90)],
)
def test_prepare_turns_a_jpeg_upright(orientation: int, transpose: Image.Transpose) -> None:
    result = prepare(camera_jpeg(orientation=orientation, size=(120, 80)), max_pixels=MAX)
    stored = open_image(result.data)
    expected = picture((120, 80)).transpose(transpose)
    assert (result.width, result.height) == expected.size == stored.size
    assert difference(stored, expected) < 4
    assert stored.getexif().get(0x0112) is None


def test_prepare_orientation_6_swaps_width_and_height_and_puts_the_red_corner_top_right() -> None:
    result = prepare(camera_jpeg(orientation=6, size=(120, 80)), max_pixels=MAX)
    stored = open_image(result.data).convert("RGB")
    assert (result.width, result.height) == (80, 120)
    red, green, _ = stored.getpixel((75, 5))  # type: ignore[misc]
    assert red > 200 and green < 60


def test_prepare_turned_jpeg_keeps_its_quantisation_tables_and_icc() -> None:
    source = open_image(camera_jpeg(orientation=6))
    stored = open_image(prepare(camera_jpeg(orientation=6), max_pixels=MAX).data)
    assert stored.quantization == source.quantization  # type: ignore[attr-defined]
    assert stored.info.get("icc_profile") == srgb_profile()


def test_prepare_keeps_the_icc_profile_of_a_jpeg() -> None:
    stored = open_image(prepare(camera_jpeg(), max_pixels=MAX).data)
    assert stored.info.get("icc_profile") == srgb_profile()


def test_prepare_keeps_a_multi_segment_icc_profile() -> None:
    big_profile = srgb_profile() + bytes(150_000)  # spans three APP2 segments
    data = encode(picture(), "JPEG", icc_profile=big_profile, exif=exif_block())
    stored = open_image(prepare(data, max_pixels=MAX).data)
    assert stored.info.get("icc_profile") == big_profile


def test_prepare_strips_png_chunks_but_keeps_iccp_and_pixels() -> None:
    result = prepare(tagged_png(), max_pixels=MAX)
    kinds = [ctype for ctype, _ in png_chunks(result.data)]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    assert b"iCCP" in kinds
    assert not {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"} & set(kinds)
    stored = open_image(result.data)
    assert stored.info.get("icc_profile") == srgb_profile()
    assert stored.tobytes() == picture().tobytes()


def test_prepare_turns_a_png_with_exif_orientation_upright() -> None:
    result = prepare(tagged_png(orientation=6), max_pixels=MAX)
    stored = open_image(result.data)
    assert (result.width, result.height) == (80, 120)
    assert stored.tobytes() == picture().transpose(Image.Transpose.ROTATE_270).tobytes()
    assert stored.info.get("icc_profile") == srgb_profile()


def test_prepare_strips_apng_text_but_keeps_animation_chunks() -> None:
    result = prepare(apng(3), max_pixels=MAX)
    kinds = [ctype for ctype, _ in png_chunks(result.data)]
    assert kinds.count(b"fcTL") == 3 and b"acTL" in kinds and b"fdAT" in kinds
    assert b"tEXt" not in kinds


def test_prepare_strips_gif_comments_and_foreign_application_blocks() -> None:
    source = animated_gif(3)
    assert b"XMP DataXMP" in source and b"secret-comment" in source
    stored = prepare(source, max_pixels=MAX).data
    assert b"XMP DataXMP" not in stored and b"secret-comment" not in stored
    assert b"NETSCAPE2.0" in stored


def test_prepare_drops_a_gif_plain_text_block_with_its_control_block() -> None:
    data = encode(Image.new("P", (4, 4), 1), "GIF")
    text = b"\x21\xf9\x04\x00\x05\x00\x00\x00" + b"\x21\x01\x0c" + bytes(12) + b"\x0esecret-caption\x00"
    image = data.index(b"\x2c", 13)
    stored = prepare(data[:image] + text + data[image:], max_pixels=MAX).data
    assert b"secret-caption" not in stored
    assert stored == data


def test_prepare_converts_tiff_with_icc_and_orientation() -> None:
    result = prepare(_tagged_tiff(orientation=6), max_pixels=MAX)
    stored = open_image(result.data)
    assert stored.format == "PNG"
    assert (result.width, result.height) == (80, 120)
    assert stored.tobytes() == picture().transpose(Image.Transpose.ROTATE_270).tobytes()
    assert stored.info.get("icc_profile") == srgb_profile()


def test_prepare_converts_cmyk_tiff_to_rgb() -> None:
    rgb = picture()
    stored = open_image(prepare(encode(rgb.convert("CMYK"), "TIFF"), max_pixels=MAX).data)
    assert stored.mode == "RGB"
    assert difference(stored, rgb) < 2


def test_prepare_converts_lab_tiff_through_a_colour_transform() -> None:
    from PIL import ImageCms

    rgb = picture()
    lab = ImageCms.profileToProfile(
        rgb, ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), outputMode="LAB"
    )
    assert lab is not None
    stored = open_image(prepare(encode(lab, "TIFF"), max_pixels=MAX).data)
    assert stored.mode == "RGB"
    assert difference(stored, rgb) < 3  # a plain convert() would be far off


def test_prepare_drops_an_icc_profile_of_the_wrong_colour_space() -> None:
    gray = picture().convert("L")
    stored = open_image(prepare(encode(gray, "TIFF", icc_profile=srgb_profile()), max_pixels=MAX).data)
    assert stored.mode == "L"
    assert "icc_profile" not in stored.info


def test_prepare_malformed_exif_is_dropped_not_refused() -> None:
    from tests.unit.test_imaging_samples import insert_after_soi, jpeg_segment

    broken = jpeg_segment(0xE1, b"Exif\x00\x00MM\x00*" + struct.pack(">I", 9999))
    data = insert_after_soi(encode(picture(), "JPEG"), broken)
    result = prepare(data, max_pixels=MAX)
    assert (result.width, result.height) == (120, 80)
    assert b"Exif" not in result.data


def test_prepare_stored_jpeg_is_prepared_identically_again() -> None:
    first = prepare(camera_jpeg(orientation=6), max_pixels=MAX)
    again = prepare(first.data, max_pixels=MAX)
    assert again.data == first.data
    assert Image.open(io.BytesIO(again.data)).size == (80, 120)


def test_prepare_drops_a_jfif_thumbnail() -> None:
    from tests.unit.test_imaging_samples import jpeg_segment

    plain = encode(picture(), "JPEG")
    assert plain[2:4] == b"\xff\xe0"
    app0_end = 4 + int.from_bytes(plain[4:6], "big")
    thumbnail = bytes([255, 0, 0]) * 4  # 2 × 2 RGB: the picture before it was cropped, say
    jfif = jpeg_segment(0xE0, b"JFIF\x00\x01\x01\x01\x00\x48\x00\x48\x02\x02" + thumbnail)
    result = prepare(plain[:2] + jfif + plain[app0_end:], max_pixels=MAX)
    assert result.data[2:4] == b"\xff\xe0"
    assert int.from_bytes(result.data[4:6], "big") == 16
    assert result.data[18:20] == b"\x00\x00"  # thumbnail width and height
    assert open_image(result.data).info.get("dpi") == (72, 72)
