"""Image intake: turns uploaded bytes into a verified, metadata-free original ready to store."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.errors import UnsupportedFileType
from chalicelib.imaging import gif, jpeg, png
from chalicelib.imaging.convert import decode_all, raster_to_png, upright_jpeg
from chalicelib.imaging.limits import ImageTooLarge
from chalicelib.imaging.pdf import pdf_to_png
from chalicelib.imaging.sniff import Kind, looks_like_markup, sniff
from chalicelib.imaging.xcf import xcf_to_png

__all__ = ["ImageTooLarge", "PreparedImage", "prepare"]

_MIME = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif"}


@dataclass(frozen=True)
class PreparedImage:
    data: bytes  # the bytes to store as the original
    ext: str  # "jpg" | "png" | "gif"
    mime: str  # "image/jpeg" | "image/png" | "image/gif"
    width: int
    height: int
    animated: bool  # True for animated GIF and APNG (more than one frame)
    source_format: str  # "JPEG" | "PNG" | "APNG" | "GIF" | "TIFF" | "BMP" | "PDF" | "XCF"


def prepare(data: bytes, *, max_pixels: int) -> PreparedImage:
    """Check, clean and if needed convert an upload.

    Raises UnsupportedFileType (not an accepted image, markup, a polyglot), InvalidImage (an
    accepted type that is corrupt or truncated) or ImageTooLarge (over the pixel ceiling); never
    anything else.
    """
    kind = sniff(data) if data else None
    if kind is None or looks_like_markup(data):
        raise UnsupportedFileType()
    if kind is Kind.JPEG:
        return _jpeg(data, max_pixels)
    if kind is Kind.PNG:
        return _png(data, max_pixels)
    if kind is Kind.GIF:
        return _gif(data, max_pixels)
    if kind is Kind.PDF:
        return _converted(kind, *pdf_to_png(data, max_pixels))
    if kind is Kind.XCF:
        return _converted(kind, *xcf_to_png(data, max_pixels))
    return _converted(kind, *raster_to_png(data, kind.value, max_pixels))


def _jpeg(data: bytes, max_pixels: int) -> PreparedImage:
    layout = jpeg.read(data, max_pixels)
    if layout.orientation == 1:
        # The full decode runs on the stripped bytes: what is stored is what was proven whole.
        width, height = decode_all(layout.stripped, "JPEG", 1, max_pixels)
        return PreparedImage(layout.stripped, "jpg", _MIME["jpg"], width, height, False, "JPEG")
    body, width, height = upright_jpeg(layout.stripped, layout.orientation, max_pixels)
    return PreparedImage(body, "jpg", _MIME["jpg"], width, height, False, "JPEG")


def _png(data: bytes, max_pixels: int) -> PreparedImage:
    layout = png.read(data, max_pixels)
    animated = layout.frames > 1
    source = "APNG" if animated else "PNG"
    if layout.orientation != 1 and not animated:
        # eXIf orientation is honoured by browsers; the chunk is dropped, so the pixels must turn.
        body, width, height = raster_to_png(layout.stripped, "PNG", max_pixels, layout.orientation)
        return PreparedImage(body, "png", _MIME["png"], width, height, False, source)
    width, height = decode_all(layout.stripped, "PNG", layout.frames, max_pixels)
    return PreparedImage(layout.stripped, "png", _MIME["png"], width, height, animated, source)


def _gif(data: bytes, max_pixels: int) -> PreparedImage:
    layout = gif.read(data, max_pixels)
    width, height = decode_all(layout.stripped, "GIF", layout.frames, max_pixels)
    return PreparedImage(layout.stripped, "gif", _MIME["gif"], width, height, layout.frames > 1, "GIF")


def _converted(kind: Kind, body: bytes, width: int, height: int) -> PreparedImage:
    return PreparedImage(body, "png", _MIME["png"], width, height, False, kind.value)
