"""GIF structure: walks the blocks to find the canvas and the frames, and drops comments and
foreign application blocks without re-encoding."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from chalicelib.errors import InvalidImage, UnsupportedFileType
from chalicelib.imaging.limits import CORRUPT, MAX_FRAMES, FrameBudget, check_size
from chalicelib.imaging.sniff import is_zero_padding

_EXTENSION, _IMAGE, _TRAILER = 0x21, 0x2C, 0x3B
_GRAPHIC_CONTROL, _PLAIN_TEXT, _APPLICATION = 0xF9, 0x01, 0xFF
# Looping control is the only application data a viewer needs; XMP, editors' data and anything
# unknown goes.
_KEEP_APPLICATIONS = frozenset({b"NETSCAPE2.0", b"ANIMEXTS1.0"})


# Each block costs a Python loop turn: three million empty comments would take seconds. Encoders
# write two blocks per frame (graphic control, image) and a few more.
MAX_BLOCKS = 4 * MAX_FRAMES
TOO_COMPLEX = "GIF has too many blocks"


@dataclass(frozen=True)
class GifLayout:
    width: int  # the logical screen, grown to cover every frame as Pillow does
    height: int
    frames: int
    stripped: bytes


def read(data: bytes, max_pixels: int) -> GifLayout:
    """Walk a GIF; refuse it from its screen and frame headers when over the ceiling."""
    if len(data) < 13:
        raise InvalidImage(CORRUPT)
    width, height, flags = struct.unpack_from("<HHB", data, 6)
    check_size(width, height, max_pixels)
    pos = 13 + _color_table_size(flags)
    budget = FrameBudget(max_pixels)
    out: list[bytes] = [data[:pos]]
    control: bytes | None = None  # a graphic control block waiting for the frame it governs
    for _ in range(MAX_BLOCKS):
        if pos >= len(data):
            raise InvalidImage(CORRUPT)  # no trailer: truncated
        introducer = data[pos]
        if introducer == _TRAILER:
            pos += 1
            break
        if introducer == _IMAGE:
            end, right, bottom = _frame(data, pos, budget)
            width, height = max(width, right), max(height, bottom)
            out.extend(b for b in (control, data[pos:end]) if b is not None)
            control = None
        elif introducer == _EXTENSION and pos + 1 < len(data):
            label = data[pos + 1]
            end = _skip_sub_blocks(data, pos + 2)
            block = data[pos:end]
            if label == _GRAPHIC_CONTROL:
                if control is not None:
                    out.append(control)
                control = block
            elif label == _PLAIN_TEXT:
                control = None  # the control block belonged to the text, which no browser draws
            elif label == _APPLICATION and block[3:14] in _KEEP_APPLICATIONS and block[2] == 11:
                out.append(block)
            # Comments, other application blocks and unknown labels are dropped.
        else:
            raise InvalidImage(CORRUPT)
        pos = end
    else:
        raise InvalidImage(TOO_COMPLEX)
    if budget.frames == 0:
        raise InvalidImage(CORRUPT)
    if not is_zero_padding(data[pos:]):
        raise UnsupportedFileType()  # something rides after the trailer: a polyglot
    check_size(width, height, max_pixels)
    budget.check_compositing(width, height)
    screen = struct.pack("<HH", width, height)
    stripped = b"".join([out[0][:6], screen, out[0][10:], *out[1:], b";"])
    return GifLayout(width, height, budget.frames, stripped)


def _color_table_size(flags: int) -> int:
    return 3 << ((flags & 0x07) + 1) if flags & 0x80 else 0


def _frame(data: bytes, pos: int, budget: FrameBudget) -> tuple[int, int, int]:
    """The end offset and the right/bottom edges of the image block at pos."""
    if pos + 11 > len(data):
        raise InvalidImage(CORRUPT)
    left, top, width, height, flags = struct.unpack_from("<HHHHB", data, pos + 1)
    budget.add(width, height)
    start = pos + 10 + _color_table_size(flags)
    if start >= len(data) or not 1 <= data[start] <= 12:
        raise InvalidImage(CORRUPT)  # LZW minimum code size out of range
    return _skip_sub_blocks(data, start + 1), left + width, top + height


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    """The offset after a chain of data sub-blocks and its zero terminator."""
    size = len(data)
    while pos < size:
        length = data[pos]
        pos += 1 + length
        if length == 0:
            return pos
    raise InvalidImage(CORRUPT)
