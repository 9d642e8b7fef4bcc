"""EXIF orientation: reading the tag from raw EXIF bytes and turning the pixels upright."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

_ORIENTATION_TAG = 0x0112
_SHORT = 3
# Orientation value → the Pillow transpose that makes the pixels upright (as ImageOps.exif_transpose).
_TRANSPOSE_NAMES = {
    2: "FLIP_LEFT_RIGHT",
    3: "ROTATE_180",
    4: "FLIP_TOP_BOTTOM",
    5: "TRANSPOSE",
    6: "ROTATE_270",
    7: "TRANSVERSE",
    8: "ROTATE_90",
}


def exif_orientation(exif: bytes) -> int:
    """The orientation (1–8) in TIFF-structured EXIF bytes; 1 when absent or unreadable.

    A malformed EXIF block is not a reason to refuse the picture: it is dropped anyway.
    """
    if exif.startswith(b"Exif\x00\x00"):
        exif = exif[6:]
    if exif[:4] == b"II*\x00":
        order = "<"
    elif exif[:4] == b"MM\x00*":
        order = ">"
    else:
        return 1
    try:
        (ifd,) = struct.unpack_from(order + "I", exif, 4)
        (count,) = struct.unpack_from(order + "H", exif, ifd)
        for index in range(count):
            tag, kind, _, value = struct.unpack_from(order + "HHIH", exif, ifd + 2 + 12 * index)
            if tag == _ORIENTATION_TAG:
                return value if kind == _SHORT and 1 <= value <= 8 else 1
    except struct.error:
        return 1
    return 1


def swaps_axes(orientation: int) -> bool:
    """True when making the image upright exchanges its width and height."""
    return orientation in (5, 6, 7, 8)


def upright(image: Image.Image, orientation: int) -> Image.Image:
    """The image turned as its EXIF orientation says (unchanged for 1 or an unknown value)."""
    from PIL import Image

    name = _TRANSPOSE_NAMES.get(orientation)
    if name is None:
        return image
    return image.transpose(Image.Transpose[name])
