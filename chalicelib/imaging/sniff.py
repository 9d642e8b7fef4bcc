"""Decides an upload's image type from its bytes alone, never from a file name or a header."""

from __future__ import annotations

import re
from enum import StrEnum


class Kind(StrEnum):
    JPEG = "JPEG"
    PNG = "PNG"
    GIF = "GIF"
    TIFF = "TIFF"
    BMP = "BMP"
    PDF = "PDF"
    XCF = "XCF"


# Old browsers sniffed HTML within the first few hundred bytes of any response; an image whose
# start reads as markup or script is refused even when it would also decode as an image.
MARKUP_WINDOW = 1024
_MARKUP = re.compile(rb"<(?:svg|html|script|\?php|!doctype\s+html|body|iframe)", re.IGNORECASE)

# BITMAPCOREHEADER, OS/2 v2 (short and long), BITMAPINFOHEADER, v2, v3, v4, v5: a text file that
# happens to start with "BM" almost never has one of these sizes at byte 14.
_BMP_HEADER_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})
_XCF_VERSION = re.compile(rb"(?:file|v\d{3})\x00")
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def looks_like_markup(data: bytes) -> bool:
    """True when markup or script appears near the start of the data."""
    return _MARKUP.search(data, 0, MARKUP_WINDOW) is not None


def is_zero_padding(tail: bytes) -> bool:
    """True for trailing bytes that are all zeros (some encoders pad to a block size)."""
    return not tail.strip(b"\x00")


def sniff(data: bytes) -> Kind | None:
    """The accepted type the magic bytes announce, or None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return Kind.JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return Kind.PNG
    if data.startswith((b"GIF87a", b"GIF89a")):
        return Kind.GIF
    if data.startswith(_TIFF_MAGIC):
        return Kind.TIFF
    if data.startswith(b"%PDF-"):
        return Kind.PDF
    if data.startswith(b"gimp xcf ") and _XCF_VERSION.match(data, 9):
        return Kind.XCF
    if _is_bmp(data):
        return Kind.BMP
    return None


def _is_bmp(data: bytes) -> bool:
    if not data.startswith(b"BM") or len(data) < 26:
        return False
    return int.from_bytes(data[14:18], "little") in _BMP_HEADER_SIZES
