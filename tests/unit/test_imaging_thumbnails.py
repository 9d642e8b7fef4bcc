"""make_thumbnails: sizes, colour handling, metadata, similarity to a naive full-resolution resize."""

from __future__ import annotations

import io
import math
import random
import struct
import subprocess
import sys
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageCms, ImageDraw, ImageFilter, ImageOps, ImageStat

from chalicelib.imaging import thumbnails
from chalicelib.imaging.thumbnails import SIZES, UndecodableImage, make_thumbnails

WHITE = (255, 255, 255)
RED, GREEN, BLUE = (220, 30, 30), (30, 200, 30), (30, 30, 220)


def _photo(size: tuple[int, int], seed: int = 1) -> Image.Image:
    """Photo-like RGB: smooth colour fields, soft-edged shapes and fine luminance texture."""
    rng = random.Random(seed)
    width, height = size
    image = Image.frombytes("RGB", (5, 4), rng.randbytes(60)).resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(25):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.randrange(2, max(3, width // 8))
        draw.ellipse(
            (x - r, y - r, x + r, y + r), fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256))
        )
        draw.line(
            (x, y, rng.randrange(width), rng.randrange(height)), fill=(rng.randrange(256),) * 3, width=3
        )
    image = image.filter(ImageFilter.GaussianBlur(1))
    texture = Image.frombytes("L", (width // 4, height // 4), rng.randbytes(width // 4 * (height // 4)))
    return Image.blend(image, texture.resize(size, Image.Resampling.BICUBIC).convert("RGB"), 0.15)


def _save(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _expected(width: int, height: int) -> dict[str, tuple[int, int]]:
    """Fits keep the aspect ratio inside the box; crops are squares of min(box, shorter side)."""
    sizes = {}
    for suffix, kind, px in SIZES:
        if kind == "crop":
            side = min(px, width, height)
            sizes[suffix] = (side, side)
        else:
            scale = min(1.0, px / max(width, height))
            sizes[suffix] = (round(width * scale), round(height * scale))
    return sizes


def _naive(image: Image.Image, suffix: str, size: tuple[int, int]) -> Image.Image:
    """The reference: straight from the full-resolution original with LANCZOS, not encoded."""
    box = None
    if suffix in ("b", "s"):
        side = min(image.size)
        left, top = (image.width - side) / 2, (image.height - side) / 2
        box = (left, top, left + side, top + side)
    return image.resize(size, Image.Resampling.LANCZOS, box=box)


def _difference(a: Image.Image, b: Image.Image) -> tuple[float, float]:
    """Mean absolute difference (0–255) and PSNR in dB."""
    stat = ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB")))
    mse = sum(rms**2 for rms in stat.rms) / 3
    return sum(stat.mean) / 3, math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def _pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = image.convert("RGB").getpixel(xy)
    assert isinstance(value, tuple)
    return value


def _centre(data: bytes) -> tuple[int, ...]:
    image = _open(data)
    return _pixel(image, (image.width // 2, image.height // 2))


def _close(pixel: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


@pytest.mark.parametrize(
    ("size", "fmt"),
    [
        ((1600, 1000), "JPEG"),  # landscape
        ((1000, 1600), "JPEG"),  # portrait
        ((40, 30), "PNG"),  # tiny: nothing is upscaled, crops are 30x30
        ((200, 120), "PNG"),  # between the boxes
        ((4000, 300), "JPEG"),  # panorama: crops need more than h has, so they come from the decoded frame
        ((1024, 1024), "JPEG"),  # h needs no resize after the JPEG draft
    ],
)
def test_make_thumbnails_sizes(size: tuple[int, int], fmt: str) -> None:
    out = make_thumbnails(_save(_photo(size), fmt))
    assert list(out) == [suffix for suffix, _, _ in SIZES]
    assert {suffix: _open(data).size for suffix, data in out.items()} == _expected(*size)


def test_make_thumbnails_landscape_exact_sizes() -> None:
    out = make_thumbnails(_save(_photo((1600, 1000)), "JPEG"))
    sizes = {suffix: _open(data).size for suffix, data in out.items()}
    assert sizes == {
        "h": (1024, 640),
        "l": (640, 400),
        "m": (320, 200),
        "t": (160, 100),
        "b": (160, 160),
        "s": (90, 90),
    }


def test_make_thumbnails_outputs_are_rgb_jpegs_without_metadata() -> None:
    exif = Image.Exif()
    exif[0x010F] = "ExampleCam"  # Make
    exif[0x0110] = "Model 1"  # Model
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    original = _save(_photo((800, 600)), "JPEG", exif=exif.tobytes(), icc_profile=srgb)
    assert _open(original).getexif()  # the input does carry metadata
    for data in make_thumbnails(original).values():
        image = _open(data)
        assert (image.format, image.mode) == ("JPEG", "RGB")
        assert "exif" not in image.info
        assert not image.getexif()
        assert "icc_profile" not in image.info


def _original(size: tuple[int, int], fmt: str, *, grey: bool = False) -> tuple[bytes, Image.Image]:
    photo = _photo(size, seed=7)
    if grey:
        photo = photo.convert("L").convert("RGB")
    data = _save(photo, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return data, _open(data).convert("RGB")


SIMILARITY_CASES = [
    ((1600, 1000), "JPEG"),
    ((1000, 1600), "JPEG"),
    ((1200, 900), "PNG"),
    ((4000, 300), "JPEG"),
]


@pytest.mark.parametrize(("size", "fmt"), SIMILARITY_CASES)
def test_make_thumbnails_close_to_naive_lanczos(size: tuple[int, int], fmt: str) -> None:
    # Grey content in RGB and quality 95 keep JPEG's own losses (chroma subsampling, quantisation) small,
    # so what is measured is mostly the draft + chained BICUBIC against one full-resolution LANCZOS.
    data, decoded = _original(size, fmt, grey=True)
    for suffix, jpeg in make_thumbnails(data, quality=95).items():
        ours = _open(jpeg)
        mad, psnr = _difference(ours, _naive(decoded, suffix, ours.size))
        assert mad < 3, (suffix, mad, psnr)
        assert psnr > 32, (suffix, mad, psnr)


@pytest.mark.parametrize(("size", "fmt"), SIMILARITY_CASES)
def test_make_thumbnails_colour_as_good_as_naive_jpegs(size: tuple[int, int], fmt: str) -> None:
    # In colour at quality 85 the JPEG encoding dominates the error; ours must lose barely more than
    # naive's JPEGs do against the unencoded full-resolution LANCZOS ideal (the HAMMING first step
    # costs up to ~0.5 dB here; a visible loss would be several dB).
    data, decoded = _original(size, fmt)
    for suffix, jpeg in make_thumbnails(data).items():
        ours = _open(jpeg)
        ideal = _naive(decoded, suffix, ours.size)
        _, ours_psnr = _difference(ours, ideal)
        _, naive_psnr = _difference(_open(_save(ideal, "JPEG", quality=85)), ideal)
        assert ours_psnr > naive_psnr - 1.0, (suffix, ours_psnr, naive_psnr)


def test_make_thumbnails_first_frame_of_animated_gif() -> None:
    frames = [Image.new("RGB", (600, 400), colour) for colour in (RED, GREEN, BLUE)]
    gif = _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert getattr(Image.open(io.BytesIO(gif)), "n_frames", 1) == 3
    out = make_thumbnails(gif)
    assert {s: _open(d).size for s, d in out.items()} == _expected(600, 400)
    for data in out.values():
        assert _close(_centre(data), RED)


def test_make_thumbnails_first_frame_of_apng() -> None:
    frames = [Image.new("RGBA", (500, 500), (*colour, 255)) for colour in (GREEN, BLUE, RED)]
    apng = _save(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert getattr(Image.open(io.BytesIO(apng)), "n_frames", 1) == 3
    for data in make_thumbnails(apng).values():
        assert _close(_centre(data), GREEN)


def test_make_thumbnails_flattens_transparency_on_white() -> None:
    image = Image.new("RGBA", (800, 600), (0, 0, 0, 0))  # transparent black: a plain convert gives black
    image.paste((*BLUE, 255), (400, 0, 800, 600))
    out = make_thumbnails(_save(image, "PNG"))
    for suffix in ("h", "t"):
        flat = _open(out[suffix])
        assert _close(_pixel(flat, (2, flat.height // 2)), WHITE), suffix
        assert _close(_pixel(flat, (flat.width - 3, flat.height // 2)), BLUE), suffix


def test_make_thumbnails_flattens_gif_transparency_on_white() -> None:
    image = Image.new("P", (300, 200), 0)
    image.putpalette([0, 0, 0, *RED] + [0] * 762)
    gif = _save(image, "GIF", transparency=0)
    for data in make_thumbnails(gif).values():
        assert _close(_centre(data), WHITE)


def test_make_thumbnails_converts_cmyk_jpeg() -> None:
    cmyk = _save(Image.new("CMYK", (640, 480), (0, 220, 220, 0)), "JPEG", quality=95)
    expected = _centre(_save(_open(cmyk).convert("RGB"), "PNG"))
    for data in make_thumbnails(cmyk).values():
        assert _open(data).mode == "RGB"
        assert _close(_centre(data), expected)


def test_make_thumbnails_greyscale_and_16_bit_inputs() -> None:
    grey = _save(Image.new("L", (300, 300), 90), "JPEG")
    deep = Image.new("I;16", (300, 300), 32768)  # half of 65535: a clipping convert would make it white
    for original, level in ((grey, 90), (_save(deep, "PNG"), 128)):
        for data in make_thumbnails(original).values():
            assert _open(data).mode == "RGB"
            assert _close(_centre(data), (level,) * 3, tolerance=3)


def test_make_thumbnails_16_bit_transparency_key() -> None:
    deep = Image.new("I;16", (300, 300), 40_000)
    deep.paste(Image.new("I;16", (150, 300), 1_000), (150, 0))  # the key below is 40000: left half clear
    for data in make_thumbnails(_save(deep, "PNG", transparency=40_000)).values():
        image = _open(data)
        assert _close(_pixel(image, (1, image.height // 2)), WHITE, tolerance=3)
        assert _close(_pixel(image, (image.width - 2, image.height // 2)), (4, 4, 4), tolerance=3)


def _display_p3_profile() -> bytes:
    """A minimal ICC v2 RGB matrix/TRC profile with Display P3 primaries (D50-adapted) and gamma 2.2.

    Pillow can only build sRGB, LAB and XYZ profiles, so the bytes are laid out here.
    """

    def s15(*values: float) -> bytes:
        return b"".join(struct.pack(">i", round(v * 65536)) for v in values)

    def xyz(*values: float) -> bytes:
        return b"XYZ " + bytes(4) + s15(*values)

    description = b"Display P3 (test)\x00"
    tags = {
        b"desc": b"desc"
        + bytes(4)
        + struct.pack(">I", len(description))
        + description
        + bytes(4 + 4 + 2 + 1 + 67),
        b"cprt": b"text" + bytes(4) + b"none\x00",
        b"wtpt": xyz(0.9642, 1.0, 0.8249),
        b"rXYZ": xyz(0.5151, 0.2412, -0.0011),
        b"gXYZ": xyz(0.2920, 0.6922, 0.0419),
        b"bXYZ": xyz(0.1571, 0.0666, 0.7841),
        b"rTRC": b"curv" + bytes(4) + struct.pack(">IH", 1, round(2.2 * 256)) + bytes(2),
    }
    tags[b"gTRC"] = tags[b"bTRC"] = tags[b"rTRC"]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags.items():
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data + bytes(-len(data) % 4)
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + bytes(4)
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + bytes(12)
        + b"acsp"
        + bytes(24)
        + struct.pack(">I", 0)  # perceptual
        + s15(0.9642, 1.0, 0.8249)
        + bytes(48)
    )
    return header + struct.pack(">I", len(tags)) + table + body


def test_make_thumbnails_converts_embedded_profile_to_srgb() -> None:
    p3 = _display_p3_profile()
    colour = (60, 170, 80)
    flat = Image.new("RGB", (640, 480), colour)
    tagged = make_thumbnails(_save(flat, "JPEG", quality=95, icc_profile=p3))
    untagged = make_thumbnails(_save(flat, "JPEG", quality=95))
    to_srgb = ImageCms.buildTransform(
        ImageCms.ImageCmsProfile(io.BytesIO(p3)), ImageCms.createProfile("sRGB"), "RGB", "RGB"
    )
    expected = _pixel(to_srgb.apply(Image.new("RGB", (1, 1), colour)), (0, 0))
    assert max(abs(a - b) for a, b in zip(expected, colour, strict=True)) >= 15  # P3 green is not sRGB green
    for suffix in tagged:
        assert _close(_centre(tagged[suffix]), expected, tolerance=4), suffix
        assert _close(_centre(untagged[suffix]), colour, tolerance=4), suffix


def test_make_thumbnails_ignores_a_broken_profile() -> None:
    colour = (120, 60, 200)
    out = make_thumbnails(_save(Image.new("RGB", (300, 200), colour), "PNG", icc_profile=b"\x00" * 200))
    for data in out.values():
        assert _close(_centre(data), colour, tolerance=4)


def test_make_thumbnails_honours_exif_orientation() -> None:
    image = Image.new("RGB", (1600, 1000), RED)
    image.paste(BLUE, (800, 0, 1600, 1000))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    original = _save(image, "JPEG", exif=exif.tobytes())
    upright = ImageOps.exif_transpose(_open(original))
    out = make_thumbnails(original)
    assert {s: _open(d).size for s, d in out.items()} == _expected(1000, 1600)
    h = _open(out["h"])
    for y in (10, h.height - 10):
        expected = _pixel(upright, (upright.width // 2, y * upright.height // h.height))
        assert _close(_pixel(h, (h.width // 2, y)), expected), y


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with one tiny IDAT: enough for Image.open, no more."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00"))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an image at all",
        _save(_photo((400, 300)), "JPEG")[:3000],  # truncated
        _save(_photo((64, 48)), "BMP"),  # a real image, but not a stored original's format
        _save(_photo((64, 48)), "PNG")[:-30],  # IDAT cut short
        _png_claiming(400, 300),  # a header and too little data
    ],
    ids=["empty", "text", "truncated-jpeg", "bmp", "truncated-png", "short-png"],
)
def test_make_thumbnails_undecodable(data: bytes) -> None:
    with pytest.raises(UndecodableImage):
        make_thumbnails(data)


@pytest.mark.parametrize(
    ("size", "max_pixels"),
    [
        ((30_000, 30_000), 50_000_000),  # 900 MP: Pillow's own DecompressionBombError
        ((8_000, 7_000), 50_000_000),  # 56 MP: over the default ceiling, under Pillow's default 89 MP
        ((9_000, 6_000), 100_000_000),  # 54 MP under a raised ceiling is not a bomb (fails later: no data)
    ],
)
def test_make_thumbnails_pixel_ceiling(size: tuple[int, int], max_pixels: int) -> None:
    pillow_limit = Image.MAX_IMAGE_PIXELS
    with pytest.raises(UndecodableImage) as caught:
        make_thumbnails(_png_claiming(*size), max_pixels=max_pixels)
    bomb = (Image.DecompressionBombError, Image.DecompressionBombWarning)
    assert isinstance(caught.value.__cause__, bomb) == (size[0] * size[1] > max_pixels)
    assert pillow_limit == Image.MAX_IMAGE_PIXELS  # the process-wide setting is put back


def test_make_thumbnails_max_pixels() -> None:
    original = _save(_photo((200, 100)), "PNG")
    with pytest.raises(UndecodableImage):
        make_thumbnails(original, max_pixels=19_999)
    assert make_thumbnails(original, max_pixels=20_000)["s"]


def test_make_thumbnails_quality_changes_size() -> None:
    original = _save(_photo((1200, 800)), "JPEG")
    assert len(make_thumbnails(original, quality=50)["h"]) < len(make_thumbnails(original, quality=95)["h"])


def test_resample_bands_match_one_resize() -> None:
    image = _photo((2000, 1500))
    box = (0.0, 0.0, 2000.0, 1500.0)
    with ThreadPoolExecutor(max_workers=2) as pool:
        banded = thumbnails._resample(pool, image, (1024, 768), box, first=False)
    whole = image.resize((1024, 768), Image.Resampling.BICUBIC, box=box)
    assert ImageChops.difference(banded, whole).getbbox() is None


def test_thumbnails_module_imports_pillow_lazily() -> None:
    code = "import sys, chalicelib.imaging.thumbnails; sys.exit('PIL' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=root, check=False).returncode == 0
