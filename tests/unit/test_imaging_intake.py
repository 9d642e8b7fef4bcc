"""prepare(): every accepted format round-trips, everything else is refused with the right error."""

from __future__ import annotations

import io
import math
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from chalicelib.errors import BadRequest, InvalidImage, UnsupportedFileType
from chalicelib.imaging import ImageTooLarge, PreparedImage, prepare
from tests.unit.test_imaging_samples import (
    animated_frames,
    animated_gif,
    apng,
    camera_jpeg,
    difference,
    encode,
    open_image,
    picture,
    png_chunk,
    png_insert_before_idat,
    xcf,
)

MAX = 50_000_000


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.html", "<html><script>alert(1)</script></html>")
    return out.getvalue()


def _multipage_tiff() -> bytes:
    first, second = picture((90, 60)), picture((30, 20))
    return encode(first, "TIFF", save_all=True, append_images=[second])


ROUND_TRIPS = {
    "jpeg": (lambda: encode(picture(), "JPEG"), "jpg", "image/jpeg", (120, 80), False, "JPEG"),
    "progressive jpeg": (
        lambda: encode(picture(), "JPEG", progressive=True),
        "jpg",
        "image/jpeg",
        (120, 80),
        False,
        "JPEG",
    ),
    "grayscale jpeg": (
        lambda: encode(picture().convert("L"), "JPEG"),
        "jpg",
        "image/jpeg",
        (120, 80),
        False,
        "JPEG",
    ),
    "cmyk jpeg": (
        lambda: encode(picture().convert("CMYK"), "JPEG"),
        "jpg",
        "image/jpeg",
        (120, 80),
        False,
        "JPEG",
    ),
    "png": (lambda: encode(picture(), "PNG"), "png", "image/png", (120, 80), False, "PNG"),
    "rgba png": (
        lambda: encode(picture().convert("RGBA"), "PNG"),
        "png",
        "image/png",
        (120, 80),
        False,
        "PNG",
    ),
    "palette png": (
        lambda: encode(picture().convert("P"), "PNG"),
        "png",
        "image/png",
        (120, 80),
        False,
        "PNG",
    ),
    "16-bit png": (
        lambda: encode(picture().convert("I;16"), "PNG"),
        "png",
        "image/png",
        (120, 80),
        False,
        "PNG",
    ),
    "apng": (lambda: apng(3), "png", "image/png", (60, 40), True, "APNG"),
    "single-frame apng": (lambda: apng(1), "png", "image/png", (60, 40), False, "PNG"),
    "gif": (lambda: encode(picture().convert("P"), "GIF"), "gif", "image/gif", (120, 80), False, "GIF"),
    "animated gif": (lambda: animated_gif(3), "gif", "image/gif", (60, 40), True, "GIF"),
    "tiff": (lambda: encode(picture(), "TIFF"), "png", "image/png", (120, 80), False, "TIFF"),
    "compressed tiff": (
        lambda: encode(picture(), "TIFF", compression="tiff_lzw"),
        "png",
        "image/png",
        (120, 80),
        False,
        "TIFF",
    ),
    "multipage tiff": (_multipage_tiff, "png", "image/png", (90, 60), False, "TIFF"),
    "cmyk tiff": (
        lambda: encode(picture().convert("CMYK"), "TIFF"),
        "png",
        "image/png",
        (120, 80),
        False,
        "TIFF",
    ),
    "bmp": (lambda: encode(picture(), "BMP"), "png", "image/png", (120, 80), False, "BMP"),
    "rgba bmp": (
        lambda: encode(picture().convert("RGBA"), "BMP"),
        "png",
        "image/png",
        (120, 80),
        False,
        "BMP",
    ),
    "pdf": (lambda: encode(picture(), "PDF"), "png", "image/png", (250, 167), False, "PDF"),
    "xcf": (lambda: xcf((120, 80), [(picture(), 0, 0)]), "png", "image/png", (120, 80), False, "XCF"),
}


@pytest.mark.parametrize("name", ROUND_TRIPS)
def test_prepare_accepted_format_round_trips(name: str) -> None:
    build, ext, mime, size, animated, source = ROUND_TRIPS[name]
    result = prepare(build(), max_pixels=MAX)
    assert isinstance(result, PreparedImage)
    assert (result.ext, result.mime, (result.width, result.height)) == (ext, mime, size)
    assert (result.animated, result.source_format) == (animated, source)
    stored = open_image(result.data)
    assert stored.format == {"jpg": "JPEG", "png": "PNG", "gif": "GIF"}[ext]
    assert stored.size == size


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "TIFF", "BMP"])
def test_prepare_keeps_the_pixels(fmt: str) -> None:
    source = picture().convert("P") if fmt == "GIF" else picture()
    result = prepare(encode(source, fmt), max_pixels=MAX)
    assert difference(open_image(result.data), source) < (3 if fmt == "JPEG" else 0.5)


def test_prepare_png_is_stored_without_reencoding() -> None:
    data = encode(picture(), "PNG")
    assert prepare(data, max_pixels=MAX).data == data  # nothing to strip: the very same bytes


def test_prepare_pdf_renders_the_first_page_at_150_dpi() -> None:
    first = Image.new("RGB", (144, 72), "white")  # 2 × 1 inch at Pillow's 72 DPI
    first.paste((0, 0, 0), (0, 0, 72, 72))
    data = encode(first, "PDF", save_all=True, append_images=[Image.new("RGB", (300, 300), "red")] * 99)
    started = time.perf_counter()
    result = prepare(data, max_pixels=MAX)
    assert time.perf_counter() - started < 1  # 100 pages, but only the first is ever rendered
    assert (result.width, result.height) == (300, 150)
    page = open_image(result.data).convert("RGB")
    assert page.getpixel((10, 75)) == (0, 0, 0)
    assert page.getpixel((290, 75)) == (255, 255, 255)


def test_prepare_xcf_flattens_layers_with_offsets() -> None:
    background = Image.new("RGBA", (80, 60), (0, 0, 255, 255))
    patch = Image.new("RGBA", (20, 10), (255, 0, 0, 255))
    result = prepare(xcf((80, 60), [(patch, 30, 40), (background, 0, 0)]), max_pixels=MAX)
    flat = open_image(result.data).convert("RGB")
    assert (result.width, result.height) == (80, 60)
    assert flat.getpixel((35, 45)) == (255, 0, 0)
    assert flat.getpixel((5, 5)) == (0, 0, 255)


def test_prepare_gif_keeps_frames_timing_and_loop() -> None:
    result = prepare(animated_gif(4), max_pixels=MAX)
    stored = open_image(result.data)
    assert getattr(stored, "n_frames", 1) == 4
    assert stored.info.get("loop") == 0
    assert stored.info.get("duration") == 70


def test_prepare_apng_keeps_every_frame() -> None:
    result = prepare(apng(3), max_pixels=MAX)
    stored = Image.open(io.BytesIO(result.data))
    assert getattr(stored, "n_frames", 1) == 3
    for index, frame in enumerate(animated_frames(3)):
        stored.seek(index)
        assert difference(stored.convert("RGB"), frame) < 0.5


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="9" height="9">'
    b"<script>alert(1)</script></svg>"
)
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nnewpath 0 0 moveto 10 10 lineto stroke\n%%EOF\n"
PSD = b"8BPS\x00\x01" + bytes(6) + b"\x00\x03\x00\x00\x00\x0a\x00\x00\x00\x0a\x00\x08\x00\x03" + bytes(64)
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00" + bytes(24)

UNSUPPORTED = {
    "svg": lambda: SVG,
    "html renamed png": lambda: HTML,
    "eps": lambda: EPS,
    "dos eps": lambda: b"\xc5\xd0\xd3\xc6" + bytes(28) + EPS,
    "psd": lambda: PSD,
    "ico": lambda: encode(picture((32, 32)), "ICO"),
    "webp": lambda: WEBP,
    "plain text": lambda: b"Just some words in a file called photo.jpg\n" * 20,
    "text starting like a bmp": lambda: b"BMW owners club newsletter, spring edition\n" * 5,
    "empty": lambda: b"",
    "zip": _zip,
    "png + zip polyglot": lambda: encode(picture(), "PNG") + _zip(),
    "jpeg + zip polyglot": lambda: encode(picture((400, 300)), "JPEG") + _zip(),
    "gif + appended html": lambda: encode(picture((300, 200)).convert("P"), "GIF") + HTML,
    "small gif + appended html": lambda: encode(Image.new("P", (2, 2)), "GIF") + HTML,
    "png with svg in a text chunk": lambda: png_insert_before_idat(
        encode(picture(), "PNG"), png_chunk(b"tEXt", b"Comment\x00<svg onload=alert(1)>")
    ),
    "jpeg with script in a comment": lambda: encode(picture(), "JPEG", comment=b"<script>alert(1)</script>"),
    "pdf with html at the start": lambda: b"%PDF-1.4\n<html><script>alert(1)</script></html>\n",
    "php after a gif header": lambda: b"GIF89a<?php system($_GET['c']); ?>",
}


@pytest.mark.parametrize("name", UNSUPPORTED)
def test_prepare_refuses_unsupported_content(name: str) -> None:
    with pytest.raises(UnsupportedFileType) as caught:
        prepare(UNSUPPORTED[name](), max_pixels=MAX)
    assert caught.value.message == "That file type is not supported!"
    assert caught.value.status == 400


def _flip_png_crc(data: bytes) -> bytes:
    start = data.index(b"IDAT") - 4
    crc_end = start + 12 + int.from_bytes(data[start : start + 4], "big")
    return data[: crc_end - 1] + bytes([data[crc_end - 1] ^ 0xFF]) + data[crc_end:]


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


INVALID = {
    "truncated jpeg": lambda: encode(picture(), "JPEG")[:-400],
    "jpeg without end marker": lambda: encode(picture(), "JPEG")[:-2],
    "jpeg cut after its headers": lambda: encode(picture(), "JPEG")[:300],
    "truncated progressive jpeg": lambda: encode(picture(), "JPEG", progressive=True)[:-300],
    "truncated png": lambda: encode(picture(), "PNG")[:-30],
    "png cut in its header": lambda: encode(picture(), "PNG")[:20],
    "png with a bad crc": lambda: _flip_png_crc(encode(picture(), "PNG")),
    "png with garbage pixels": lambda: (
        encode(picture(), "PNG")[:33]  # signature + IHDR
        + png_chunk(b"IDAT", b"not zlib at all")
        + png_chunk(b"IEND", b"")
    ),
    "truncated gif": lambda: encode(picture().convert("P"), "GIF")[:-1],
    "gif cut in half": lambda: _half(encode(picture().convert("P"), "GIF")),
    "truncated animated gif": lambda: animated_gif(3)[:-40],
    "truncated tiff": lambda: encode(picture(), "TIFF")[:200],
    "tiff header only": lambda: b"II*\x00\x08\x00\x00\x00" + bytes(16),
    "truncated bmp": lambda: encode(picture(), "BMP")[:-500],
    "broken pdf": lambda: b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< >>\n%%EOF\n",
    "truncated xcf": lambda: xcf((40, 30), [(picture((40, 30)), 0, 0)])[:200],
    "xcf header only": lambda: b"gimp xcf v001\x00" + bytes(12),
}


@pytest.mark.parametrize("name", INVALID)
def test_prepare_refuses_corrupt_images(name: str) -> None:
    with pytest.raises(InvalidImage) as caught:
        prepare(INVALID[name](), max_pixels=MAX)
    assert caught.value.status == 400
    assert "corrupt" in caught.value.message


def test_prepare_accepts_zero_padding_after_the_image() -> None:
    for data in (encode(picture(), "JPEG"), encode(picture(), "PNG"), encode(picture().convert("P"), "GIF")):
        result = prepare(data + bytes(512), max_pixels=MAX)
        assert not result.data.endswith(bytes(16))


def test_prepare_cuts_off_a_phones_embedded_preview_jpeg() -> None:
    main, preview = camera_jpeg(size=(400, 300)), encode(picture((40, 30)), "JPEG")
    result = prepare(main + preview, max_pixels=MAX)
    assert (result.width, result.height) == (400, 300)
    assert result.data.count(b"\xff\xd8") == 1
    assert result.data.endswith(b"\xff\xd9")


def test_prepare_errors_are_bad_requests() -> None:
    assert issubclass(ImageTooLarge, BadRequest)
    assert ImageTooLarge(MAX).message == "Image is larger than 50 megapixels"
    assert ImageTooLarge(MAX).status == 400


def test_prepare_result_is_frozen() -> None:
    result = prepare(encode(picture(), "PNG"), max_pixels=MAX)
    with pytest.raises(AttributeError):
        result.width = 1  # type: ignore[misc]


def test_imaging_import_does_not_load_decoders() -> None:
    code = (
        "import sys, chalicelib.imaging\n"
        "heavy = {'PIL', 'pypdfium2', 'gimpformats', 'numpy'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def test_prepare_pdf_size_follows_the_page() -> None:
    page = Image.new("RGB", (200, 100), "white")
    result = prepare(encode(page, "PDF", resolution=100.0), max_pixels=MAX)
    # 200 × 100 px at 100 DPI is 144 × 72 pt, rendered at 150 DPI.
    assert (result.width, result.height) == (math.ceil(144 * 150 / 72), math.ceil(72 * 150 / 72))


def test_prepare_markup_deep_inside_dropped_metadata_is_stripped_not_refused() -> None:
    data = encode(Image.effect_noise((64, 64), 50), "PNG")
    assert len(data) > 1024  # the markup check only reads the start, where browsers sniff
    iend = data.index(b"IEND") - 4
    tagged = data[:iend] + png_chunk(b"tEXt", b"Comment\x00<html><script>x</script>") + data[iend:]
    result = prepare(tagged, max_pixels=MAX)
    assert b"<html" not in result.data


def test_motion_photo_video_trailer_is_cut_off_not_refused():
    import io

    from PIL import Image

    from chalicelib.imaging import prepare

    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (1, 2, 3)).save(buffer, "JPEG")
    video = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64
    prepared = prepare(buffer.getvalue() + video, max_pixels=50_000_000)
    assert prepared.ext == "jpg"
    assert b"ftyp" not in prepared.data
