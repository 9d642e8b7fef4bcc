"""Thumbnails: the six Imgur sizes of a stored original, as metadata-free sRGB JPEGs."""

from __future__ import annotations

import functools
import io
import itertools
import math
import os
import struct
import warnings
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from PIL import Image, ImageCms

_Box = tuple[float, float, float, float]

# (suffix, kind, box side in px): "fit" keeps the aspect ratio inside the box, "crop" covers it then crops.
SIZES: Final[tuple[tuple[str, str, int], ...]] = (
    ("h", "fit", 1024),
    ("l", "fit", 640),
    ("m", "fit", 320),
    ("t", "fit", 160),
    ("b", "crop", 160),
    ("s", "crop", 90),
)

# Only what the upload accepts: without a list Pillow tries every plugin it has on the bytes.
_FORMATS: Final = ("JPEG", "PNG", "GIF")

# What Pillow's plugins raise on corrupt input: header parsers use SyntaxError and struct.error,
# truncated data gives OSError or EOFError, inconsistent chunks ValueError/IndexError/KeyError.
_DECODE_ERRORS: Final = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
)

# Above this scale factor a box-filter reduce() by an integer comes first; Pillow documents 3.0 as
# indistinguishable from a full-size resample. Only large PNGs and GIFs get there: JPEGs are drafted.
_REDUCING_GAP: Final = 3.0

# Pillow releases the GIL while resampling and encoding, so large outputs are resized in horizontal
# bands on several threads (a Lambda with 1,769 MB or more has 2+ vCPUs). Below this many output
# pixels the hand-off costs more than it saves.
_WORKERS: Final = max(1, min(4, os.cpu_count() or 1))
_BAND_MIN_PIXELS: Final = 60_000

_EXIF_ORIENTATION: Final = 0x0112


class UndecodableImage(Exception):
    """The original cannot be decoded: the caller marks the image failed."""


@dataclass(frozen=True)
class _Picture:
    """An image, the region of it that shows the whole original, and whether it is sRGB RGB yet."""

    image: Image.Image
    box: _Box  # a JPEG draft decodes a partial pixel at the right and bottom edges
    srgb: bool

    @property
    def square_side(self) -> float:
        return min(self.box[2] - self.box[0], self.box[3] - self.box[1])

    def centre_square(self) -> _Box:
        left, top, right, bottom = self.box
        side = self.square_side
        x0, y0 = left + (right - left - side) / 2, top + (bottom - top - side) / 2
        return (x0, y0, x0 + side, y0 + side)


@dataclass(frozen=True)
class _Decoded:
    picture: _Picture
    size: tuple[int, int]  # of the original, before any JPEG draft scaling
    icc: bytes | None
    orientation: int


def make_thumbnails(data: bytes, *, max_pixels: int = 50_000_000, quality: int = 85) -> dict[str, bytes]:
    """suffix -> JPEG bytes for all six sizes.

    Raises UndecodableImage when the original cannot be decoded or has more than max_pixels pixels.
    """
    decoded = _decode(data, max_pixels)
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        # Each thumbnail is encoded on the pool while the next one is being made.
        pending = {
            suffix: pool.submit(_encode, picture.image, quality, decoded.orientation)
            for suffix, picture in _pictures(decoded, pool)
        }
        return {suffix: pending[suffix].result() for suffix, _, _ in SIZES}


def _pictures(decoded: _Decoded, pool: Executor) -> Iterator[tuple[str, _Picture]]:
    width, height = decoded.size
    made: dict[str, _Picture] = {}
    # Each fit comes from the previous, larger one: only h resamples the decoded frame.
    source = decoded.picture
    for suffix, _, px in sorted((s for s in SIZES if s[1] == "fit"), key=lambda s: -s[2]):
        source = made[suffix] = _derive(pool, source, _fit_size(width, height, px), source.box, decoded.icc)
        yield suffix, source
    # A crop shows the centre square of the original at min(px, shorter side): a smaller square than
    # asked for, never an upscaled one. It comes from the smallest picture holding that square at full
    # resolution (m for b and b for s on a photo; the decoded frame for a panorama).
    for suffix, _, px in sorted((s for s in SIZES if s[1] == "crop"), key=lambda s: -s[2]):
        side = min(px, width, height)
        big_enough = [p for p in (*made.values(), decoded.picture) if p.square_side >= side]
        source = min(big_enough, key=lambda p: p.square_side)
        made[suffix] = _derive(pool, source, (side, side), source.centre_square(), decoded.icc)
        yield suffix, made[suffix]


def _fit_size(width: int, height: int, box: int) -> tuple[int, int]:
    scale = min(1.0, box / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _decode_target(width: int, height: int) -> tuple[int, int]:
    """The smallest size that still holds every thumbnail at full resolution (h, or a crop's cover)."""
    need_w, need_h = 1, 1
    for _, kind, px in SIZES:
        if kind == "fit":
            w, h = _fit_size(width, height, px)
        else:
            scale = min(px, width, height) / min(width, height)
            w, h = math.ceil(width * scale), math.ceil(height * scale)
        need_w, need_h = max(need_w, w), max(need_h, h)
    return need_w, need_h


def _decode(data: bytes, max_pixels: int) -> _Decoded:
    from PIL import Image, ImageFile

    # Pillow's bomb check reads this global during open: the caller's ceiling, not Pillow's default of
    # 89 MP, which would refuse what intake accepted under a higher MAX_PIXELS. Truncated files fail
    # even if some other code allowed them. Restored after: it is process-wide state.
    saved = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
    Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = max_pixels, False
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its limit and twice that: make the warning an error too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _read_first_frame(data)
    except (*_DECODE_ERRORS, Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise UndecodableImage(str(e) or type(e).__name__) from e
    finally:
        Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _read_first_frame(data: bytes) -> _Decoded:
    from PIL import Image

    image = Image.open(io.BytesIO(data), formats=_FORMATS)
    size = image.size
    box: _Box = (0, 0, *size)
    if image.format == "JPEG":
        # DCT scaling: libjpeg decodes straight to 1/2, 1/4 or 1/8 size, which on a 12 MP photo saves
        # most of the decode and nearly all of the resampling.
        drafted = image.draft("RGB", _decode_target(*size))
        if drafted is not None:
            box = drafted[1]
    icc = image.info.get("icc_profile") or None
    orientation = _orientation(image)
    image.load()  # a freshly opened GIF or APNG is at its first frame
    return _Decoded(_Picture(_normalise(image), box, srgb=False), size, icc, orientation)


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(_EXIF_ORIENTATION, 1))
    except _DECODE_ERRORS:
        return 1  # a broken Exif block does not make the pixels unusable


def _normalise(image: Image.Image) -> Image.Image:
    """L, RGB or CMYK (what an ICC profile applies to), with transparency flattened on white."""
    from PIL import ImageMath

    if image.mode.startswith("I"):
        # 16-bit greyscale PNG: convert() would clip everything above 255 to white, and a tRNS key
        # is a 16-bit value, so both are handled before going down to 8 bits.
        wide = image.convert("I")
        grey = wide.point(lambda v: v / 257).convert("L")
        key = image.info.get("transparency")
        if not isinstance(key, int):
            return grey
        return _on_white(
            grey, ImageMath.lambda_eval(lambda a: (a["wide"] != key) * 255, wide=wide).convert("L")
        )
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        return _on_white(rgba, rgba)
    if image.mode in ("L", "RGB", "CMYK"):
        return image
    return image.convert("L" if image.mode == "1" else "RGB")


def _on_white(image: Image.Image, mask: Image.Image) -> Image.Image:
    from PIL import Image

    flat = Image.new("RGB", image.size, (255, 255, 255))
    flat.paste(image, (0, 0), mask)
    return flat


def _derive(
    pool: Executor, source: _Picture, size: tuple[int, int], box: _Box, icc: bytes | None
) -> _Picture:
    if (box[2] - box[0], box[3] - box[1]) == size:
        # Same scale (a small original): cut pixels exactly rather than resample them half a pixel off.
        left, top = int(box[0]), int(box[1])
        image = source.image.crop((left, top, left + size[0], top + size[1]))
    else:
        image = _resample(pool, source.image, size, box, first=not source.srgb)
    if not source.srgb:
        # Colour-convert after the first resize: a million pixels at most, not the decoded millions.
        image = _to_srgb(image, icc)
    return _Picture(image, (0, 0, *size), srgb=True)


def _resample(
    pool: Executor, image: Image.Image, size: tuple[int, int], box: _Box, *, first: bool
) -> Image.Image:
    from PIL import Image

    # The first step, from the decoded frame, is about a third of the CPU time: HAMMING (support 1) takes
    # 40% less there than BICUBIC. It is softer (41 vs 45 dB from a full-resolution LANCZOS on h), but
    # after the JPEG encoding the thumbnails stay within ~0.5 dB of naive LANCZOS JPEGs. The chained
    # steps are cheap and keep BICUBIC, whose slight sharpening stops blur adding up along h > l > m > t.
    resample = Image.Resampling.HAMMING if first else Image.Resampling.BICUBIC
    factor = int(min((box[2] - box[0]) / size[0], (box[3] - box[1]) / size[1]) / _REDUCING_GAP)
    if factor > 1:
        image = image.reduce(factor)
        box = (box[0] / factor, box[1] / factor, box[2] / factor, box[3] / factor)
    bands = _WORKERS if size[0] * size[1] >= _BAND_MIN_PIXELS else 1
    if bands == 1:
        return image.resize(size, resample, box)
    # Bands give the same pixels as one resize: an output row keeps its source centre, and its filter
    # window reads across the band edge into the rest of the image.
    left, top, right, bottom = box
    step = (bottom - top) / size[1]
    cuts = [size[1] * i // bands for i in range(bands + 1)]
    parts = [
        pool.submit(
            image.resize,
            (size[0], end - start),
            resample,
            (left, top + start * step, right, top + end * step),
        )
        for start, end in itertools.pairwise(cuts)
    ]
    out = Image.new(image.mode, size)
    for start, part in zip(cuts, parts, strict=False):
        out.paste(part.result(), (0, start))
    return out


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    from PIL import ImageCms

    if icc:
        try:
            return _transform(icc, image.mode).apply(image)
        except (ImageCms.PyCMSError, *_DECODE_ERRORS):
            pass  # a broken profile, or one for another colour space: assume sRGB, as browsers do
    return image if image.mode == "RGB" else image.convert("RGB")


@functools.lru_cache(maxsize=8)
def _transform(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform:
    # Cached: camera and phone photos share a handful of profiles (sRGB, Display P3, Adobe RGB).
    from PIL import ImageCms

    source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    return ImageCms.buildTransform(source, ImageCms.createProfile("sRGB"), mode, "RGB")


def _encode(image: Image.Image, quality: int, orientation: int) -> bytes:
    from PIL import Image

    transpose = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }.get(orientation)
    if transpose is not None:
        # Browsers turn the original by its Exif orientation; the thumbnails carry no Exif, so turn pixels.
        # Boxes are square, so turning after resizing gives the same sizes and centre crops.
        image = image.transpose(transpose)
    out = io.BytesIO()
    # No Exif or ICC profile: the pixels are sRGB by now and camera metadata must not leak. Huffman
    # optimisation would take 2.4x the encode time for 3% fewer bytes, progressive 5x for 6%.
    image.save(out, "JPEG", quality=quality, optimize=False, progressive=False, exif=b"", icc_profile=None)
    return out.getvalue()
