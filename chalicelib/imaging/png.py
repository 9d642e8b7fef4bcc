"""PNG and APNG structure: walks the chunks to find the size and the frames, and drops metadata
chunks without re-encoding (so an APNG's animation survives untouched)."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from chalicelib.errors import InvalidImage, UnsupportedFileType
from chalicelib.imaging.limits import CORRUPT, FrameBudget, check_size
from chalicelib.imaging.orientation import exif_orientation
from chalicelib.imaging.sniff import is_zero_padding

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Everything a viewer needs to draw the pixels in the right colours, plus the APNG chunks. Text
# (tEXt/zTXt/iTXt), eXIf, tIME, sPLT (a named palette no browser uses) and any private chunk
# (C2PA, editor data...) are dropped.
_KEEP = frozenset(
    {
        b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB",
        b"cICP", b"mDCV", b"cLLI", b"bKGD", b"hIST", b"pHYs", b"acTL", b"fcTL", b"fdAT",
    }
)  # fmt: skip
_MAX_CHUNK = 2**31 - 1  # the PNG spec's limit on a chunk length
# Walking a chunk costs a few microseconds: 800,000 empty chunks in a 10 MB upload would take
# seconds. Encoders write a handful, plus two or three per APNG frame.
MAX_CHUNKS = 50_000
TOO_COMPLEX = "PNG has too many chunks"


@dataclass(frozen=True)
class PngLayout:
    width: int
    height: int
    frames: int  # 1 for a still PNG (and for an APNG of one frame)
    orientation: int  # from an eXIf chunk; 1 without one
    stripped: bytes


def read(data: bytes, max_pixels: int) -> PngLayout:
    """Walk a PNG; refuse it from IHDR (and each fcTL) when over the ceiling, before decoding."""
    view = memoryview(data)
    width, height = _header(data, max_pixels)
    budget = FrameBudget(max_pixels)
    out: list[bytes | memoryview] = [SIGNATURE]
    declared = 0
    orientation = 1
    pos = len(SIGNATURE)
    for _ in range(MAX_CHUNKS):
        ctype, body, end = _chunk(data, view, pos)
        if ctype == b"acTL":
            declared = _animation_frames(body)
        elif ctype == b"fcTL":
            _frame(body, width, height, budget)
        elif ctype == b"eXIf":
            orientation = exif_orientation(bytes(body))
        elif ctype[0] & 0x20 == 0 and ctype not in _KEEP:
            raise InvalidImage(CORRUPT)  # an unknown critical chunk: no viewer can draw it
        if ctype in _KEEP:
            out.append(view[pos:end])
        pos = end
        if ctype == b"IEND":
            break
    else:
        raise InvalidImage(TOO_COMPLEX)
    if declared and declared != budget.frames:
        raise InvalidImage(CORRUPT)  # acTL promises other frames than the file holds
    budget.check_compositing(width, height)
    if not is_zero_padding(data[pos:]):
        raise UnsupportedFileType()  # something rides after IEND: a polyglot
    frames = budget.frames if declared else 1
    return PngLayout(width, height, frames, orientation, b"".join(out))


def _header(data: bytes, max_pixels: int) -> tuple[int, int]:
    if len(data) < 33 or data[12:16] != b"IHDR" or data[8:12] != b"\x00\x00\x00\x0d":
        raise InvalidImage(CORRUPT)
    width, height = struct.unpack_from(">II", data, 16)
    check_size(width, height, max_pixels)
    return width, height


def _chunk(data: bytes, view: memoryview, pos: int) -> tuple[bytes, memoryview, int]:
    """One chunk's type, body and end offset, after checking its length and CRC."""
    if pos + 8 > len(data):
        raise InvalidImage(CORRUPT)
    length, ctype = struct.unpack_from(">I4s", data, pos)
    end = pos + 12 + length
    if length > _MAX_CHUNK or end > len(data) or not ctype.isalpha():
        raise InvalidImage(CORRUPT)
    body = view[pos + 8 : end - 4]
    (crc,) = struct.unpack_from(">I", data, end - 4)
    if zlib.crc32(body, zlib.crc32(ctype)) != crc:
        raise InvalidImage(CORRUPT)
    return ctype, body, end


def _animation_frames(body: memoryview) -> int:
    if len(body) != 8:
        raise InvalidImage(CORRUPT)
    frames, _plays = struct.unpack(">II", body)
    if frames == 0:
        raise InvalidImage(CORRUPT)
    return int(frames)


def _frame(body: memoryview, width: int, height: int, budget: FrameBudget) -> None:
    if len(body) != 26:
        raise InvalidImage(CORRUPT)
    _seq, w, h, x, y = struct.unpack_from(">IIIII", body)
    budget.add(w, h)
    if x + w > width or y + h > height:
        raise InvalidImage(CORRUPT)  # APNG frames must lie inside the canvas
