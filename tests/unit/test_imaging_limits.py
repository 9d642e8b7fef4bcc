"""The pixel ceiling: refused from headers before decoding, per frame, per animation and per render."""

from __future__ import annotations

import struct
import time
import tracemalloc
import warnings

import pytest
from PIL import Image

from chalicelib.errors import InvalidImage
from chalicelib.imaging import ImageTooLarge, prepare
from chalicelib.imaging.limits import MAX_FRAMES
from chalicelib.imaging.pdf import PDF_MAX_SIDE, render_scale
from chalicelib.imaging.xcf import XCF_MAX_PIXELS
from tests.unit.test_imaging_samples import (
    animated_frames,
    apng,
    encode,
    one_bit_png,
    open_image,
    picture,
    png_chunk,
    xcf,
)

MAX = 50_000_000


def _gif_with_frame(canvas: tuple[int, int], frame: tuple[int, int, int, int]) -> bytes:
    """A GIF whose only image block sits at (left, top) with its own width × height."""
    left, top, width, height = frame
    data = bytearray(encode(Image.new("P", (width, height), 1), "GIF"))
    data[6:10] = struct.pack("<HH", *canvas)
    image = data.index(b"\x2c", 13)
    data[image + 1 : image + 5] = struct.pack("<HH", left, top)
    return bytes(data)


def test_prepare_refuses_a_20000_square_1bit_png_from_its_header() -> None:
    data = one_bit_png(20_000, 20_000)  # 400 MP: a few tens of kB on the wire
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(ImageTooLarge) as caught:
        prepare(data, max_pixels=MAX)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert caught.value.message == "Image is larger than 50 megapixels"
    assert elapsed < 0.05
    assert peak < 1_000_000


def test_prepare_refuses_png_just_over_the_ceiling_and_accepts_it_at_the_ceiling() -> None:
    data = encode(Image.new("L", (100, 100)), "PNG")
    assert prepare(data, max_pixels=10_000).width == 100
    with pytest.raises(ImageTooLarge):
        prepare(data, max_pixels=9_999)


@pytest.mark.parametrize("fmt", ["JPEG", "GIF", "TIFF", "BMP"])
def test_prepare_refuses_over_the_ceiling_for_every_format(fmt: str) -> None:
    image = picture((200, 150))
    with pytest.raises(ImageTooLarge):
        prepare(encode(image.convert("P") if fmt == "GIF" else image, fmt), max_pixels=20_000)


def test_prepare_refuses_a_huge_gif_canvas_from_its_header() -> None:
    data = _gif_with_frame((20_000, 20_000), (0, 0, 4, 4))
    started = time.perf_counter()
    with pytest.raises(ImageTooLarge):
        prepare(data, max_pixels=MAX)
    assert time.perf_counter() - started < 0.05


def test_prepare_refuses_a_gif_frame_bigger_than_its_canvas() -> None:
    # The canvas is tiny; the frame header claims 3000 × 3000 (9 MP over a 1 MP ceiling).
    data = bytearray(_gif_with_frame((10, 10), (0, 0, 4, 4)))
    image = data.index(b"\x2c", 13)
    data[image + 5 : image + 9] = struct.pack("<HH", 3000, 3000)
    with pytest.raises(ImageTooLarge):
        prepare(bytes(data), max_pixels=1_000_000)


def test_prepare_grows_the_gif_canvas_to_a_frame_outside_it() -> None:
    result = prepare(_gif_with_frame((10, 10), (5, 6, 20, 8)), max_pixels=MAX)
    assert (result.width, result.height) == (25, 14)
    assert open_image(result.data).size == (25, 14)  # the stored header says so too


def test_prepare_refuses_a_gif_whose_frames_grow_the_canvas_over_the_ceiling() -> None:
    # Canvas and frame are tiny, but a frame at (900, 900) grows the canvas to 910 × 910.
    with pytest.raises(ImageTooLarge):
        prepare(_gif_with_frame((10, 10), (900, 900, 10, 10)), max_pixels=100_000)


def test_prepare_caps_the_sum_of_animation_frames_at_four_ceilings() -> None:
    size = (100, 100)  # each frame 10,000 px; the ceiling is 10,000 px, so 4 frames fit
    frames = [frame.convert("P") for frame in animated_frames(5, size)]
    four = encode(frames[0], "GIF", save_all=True, append_images=frames[1:4])
    five = encode(frames[0], "GIF", save_all=True, append_images=frames[1:5])
    assert prepare(four, max_pixels=10_000).animated
    with pytest.raises(ImageTooLarge):
        prepare(five, max_pixels=10_000)
    assert prepare(apng(4, size), max_pixels=10_000).animated
    with pytest.raises(ImageTooLarge):
        prepare(apng(5, size), max_pixels=10_000)


def test_prepare_refuses_an_animation_with_too_many_frames() -> None:
    one = encode(Image.new("P", (1, 1), 1), "GIF")
    image = one[one.index(b"\x2c", 13) : -1]
    data = one[: one.index(b"\x2c", 13)] + image * (MAX_FRAMES + 1) + b";"
    started = time.perf_counter()
    with pytest.raises(ImageTooLarge):
        prepare(data, max_pixels=MAX)
    assert time.perf_counter() - started < 1


def test_prepare_refuses_many_small_frames_on_a_large_canvas() -> None:
    # 1,000 one-pixel frames hold few pixels, but Pillow composites each onto the 4 MP canvas.
    one = _gif_with_frame((2000, 2000), (0, 0, 1, 1))
    image = one[one.index(b"\x2c", 13) : -1]
    data = one[:-1] + image * 999 + b";"
    started = time.perf_counter()
    with pytest.raises(ImageTooLarge):
        prepare(data, max_pixels=MAX)
    assert time.perf_counter() - started < 0.5


def test_prepare_refuses_an_apng_frame_outside_its_canvas() -> None:
    data = bytearray(apng(2))
    fctl = data.index(b"fcTL")
    body = bytearray(data[fctl + 4 : fctl + 30])
    body[12:16] = struct.pack(">I", 50)  # x offset 50 + width 60 > canvas 60
    data[fctl - 4 : fctl + 34] = png_chunk(b"fcTL", bytes(body))
    with pytest.raises(InvalidImage):
        prepare(bytes(data), max_pixels=MAX)


def test_prepare_turns_pillows_bomb_warning_into_an_error_and_restores_its_limit() -> None:
    before = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a silent pass would show up here as an escaped warning
        with pytest.raises(ImageTooLarge):
            prepare(encode(picture((300, 200)), "BMP"), max_pixels=50_000)
    assert before == Image.MAX_IMAGE_PIXELS


def test_prepare_scales_a_pdf_page_over_the_ceiling_before_rendering() -> None:
    page = Image.new("RGB", (1000, 1000), "white")  # 1000 pt square: 2084 px square at 150 DPI
    started = time.perf_counter()
    result = prepare(encode(page, "PDF"), max_pixels=100_000)
    assert time.perf_counter() - started < 1
    assert result.width * result.height <= 100_000
    assert abs(result.width - result.height) <= 1


def test_prepare_limits_a_long_pdf_page_to_4096_pixels() -> None:
    page = Image.new("RGB", (100, 3000), "white")  # 3000 pt tall: 6250 px at 150 DPI
    result = prepare(encode(page, "PDF"), max_pixels=MAX)
    assert result.height == PDF_MAX_SIDE
    assert result.width in (136, 137)


def test_render_scale_fits_side_and_pixel_limits() -> None:
    assert render_scale(612, 792, MAX) == pytest.approx(150 / 72)  # US Letter at 150 DPI
    scale = render_scale(14_400, 14_400, MAX)  # the largest page PDF allows
    assert 14_400 * scale <= PDF_MAX_SIDE
    scale = render_scale(612, 792, 10_000)
    assert (612 * scale) * (792 * scale) <= 10_000
    with pytest.raises(InvalidImage):
        render_scale(0, 792, MAX)


def test_prepare_refuses_an_xcf_canvas_from_its_header() -> None:
    data = bytearray(xcf((8, 8), [(picture((8, 8)), 0, 0)]))
    data[14:22] = struct.pack(">II", 20_000, 20_000)
    with pytest.raises(ImageTooLarge):
        prepare(bytes(data), max_pixels=MAX)


def test_prepare_holds_xcf_to_its_own_lower_ceiling() -> None:
    data = bytearray(xcf((8, 8), [(picture((8, 8)), 0, 0)]))
    data[14:22] = struct.pack(">II", 2100, 2000)  # 4.2 MP: under max_pixels, over the XCF ceiling
    with pytest.raises(ImageTooLarge) as caught:
        prepare(bytes(data), max_pixels=MAX)
    assert str(XCF_MAX_PIXELS // 1_000_000) in caught.value.message


def test_prepare_refuses_an_xcf_layer_over_the_ceiling() -> None:
    data = bytearray(xcf((8, 8), [(picture((8, 8)), 0, 0)]))
    layer = struct.unpack_from(">I", data, 14 + 12 + 17)[0]  # first layer pointer after the properties
    data[layer : layer + 8] = struct.pack(">II", 5000, 5000)
    with pytest.raises(ImageTooLarge):
        prepare(bytes(data), max_pixels=MAX)


def _xcf_layer_offsets_at(data: bytes) -> int:
    layer = struct.unpack_from(">I", data, 14 + 12 + 17)[0]
    return data.index(struct.pack(">II", 15, 8), layer) + 8  # PROP_OFFSETS payload


def test_prepare_refuses_an_xcf_layer_offset_far_off_the_canvas() -> None:
    # blendmodes pads a layer out to its offset: 16 million columns would be gigabytes.
    data = bytearray(xcf((24, 16), [(picture((24, 16)), 0, 0)]))
    offsets = _xcf_layer_offsets_at(bytes(data))
    data[offsets : offsets + 4] = struct.pack(">i", 16_777_216)
    started = time.perf_counter()
    with pytest.raises(ImageTooLarge):
        prepare(bytes(data), max_pixels=MAX)
    assert time.perf_counter() - started < 0.1


def test_prepare_accepts_an_xcf_layer_partly_off_the_canvas() -> None:
    data = xcf((24, 16), [(Image.new("RGBA", (10, 10), (255, 0, 0, 255)), -5, 12)])
    flat = open_image(prepare(data, max_pixels=MAX).data).convert("RGBA")
    assert flat.getpixel((2, 14)) == (255, 0, 0, 255)
    assert flat.getpixel((2, 2))[3] == 0  # type: ignore[index]


def test_prepare_refuses_xcf_pixel_data_larger_than_its_layer() -> None:
    # gimpformats would decode every tile of a 2000 × 2000 hierarchy behind a 24 × 16 layer.
    data = bytearray(xcf((24, 16), [(picture((24, 16)), 0, 0)]))
    hierarchy = struct.unpack_from(">I", data, _xcf_layer_offsets_at(bytes(data)) + 16)[0]
    data[hierarchy : hierarchy + 8] = struct.pack(">II", 2000, 2000)
    with pytest.raises(InvalidImage):
        prepare(bytes(data), max_pixels=MAX)


def test_prepare_refuses_a_jpeg_with_too_many_scans() -> None:
    # libjpeg walks the whole image once per scan, however empty: a classic decoding bomb.
    data = encode(picture(), "JPEG")
    scan = data[data.index(b"\xff\xda") : -2]
    with pytest.raises(InvalidImage) as caught:
        prepare(data[: data.index(b"\xff\xda")] + scan * 101 + b"\xff\xd9", max_pixels=MAX)
    assert "too many scans" in caught.value.message


def test_prepare_refuses_a_png_of_countless_empty_chunks_quickly() -> None:
    data = encode(Image.new("L", (8, 8)), "PNG")
    idat = data.index(b"IDAT") - 4
    padded = data[:idat] + png_chunk(b"abCd", b"") * 60_000 + data[idat:]
    started = time.perf_counter()
    with pytest.raises(InvalidImage):
        prepare(padded, max_pixels=MAX)
    assert time.perf_counter() - started < 0.5


def test_prepare_refuses_a_gif_of_countless_empty_comments_quickly() -> None:
    data = encode(Image.new("P", (8, 8)), "GIF")
    image = data.index(b"\x2c", 13)
    padded = data[:image] + b"\x21\xfe\x00" * 50_000 + data[image:]
    started = time.perf_counter()
    with pytest.raises(InvalidImage):
        prepare(padded, max_pixels=MAX)
    assert time.perf_counter() - started < 0.5
