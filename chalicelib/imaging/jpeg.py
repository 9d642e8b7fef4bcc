"""JPEG structure: walks the marker segments to find the size, the orientation and the image's end,
and strips metadata while copying the entropy-coded data byte for byte."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from chalicelib.errors import InvalidImage, UnsupportedFileType
from chalicelib.imaging.limits import CORRUPT, check_size
from chalicelib.imaging.orientation import exif_orientation
from chalicelib.imaging.sniff import is_zero_padding

SOI = b"\xff\xd8"
_EOI = 0xD9
_SOS = 0xDA
_COM = 0xFE
_APP0, _APP2, _APP14 = 0xE0, 0xE2, 0xEE
# SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC), which share the range.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Segments a decoder needs besides SOFn/SOS: DHT, DAC, DQT, DNL, DRI.
_TABLES = frozenset({0xC4, 0xCC, 0xDB, 0xDC, 0xDD})
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0–7 carry no length
# The APPn segments a viewer needs besides JFIF: ICC colour profile, Adobe colour transform.
_KEEP_APP = {_APP2: b"ICC_PROFILE\x00", _APP14: b"Adobe"}
# Inside entropy-coded data 0xFF is followed by a stuffed 0x00, a restart marker or a fill byte;
# anything else ends the scan.
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
# libjpeg walks the whole image once per progressive scan, however little data a scan holds, so a
# file of thousands of empty scans is a decoding bomb. Encoders write about ten; a real JPEG has a
# few dozen segments at most.
MAX_SCANS = 100
MAX_SEGMENTS = 4096
TOO_COMPLEX = "JPEG has too many scans or segments"


@dataclass(frozen=True)
class JpegLayout:
    width: int
    height: int
    orientation: int
    stripped: bytes  # SOI, the kept segments, the scans and EOI; nothing after the first EOI


def read(data: bytes, max_pixels: int) -> JpegLayout:
    """Walk a JPEG; refuse it from its SOF header when over the ceiling, before any decoding."""
    out = [SOI]
    size: tuple[int, int] | None = None
    orientation = 0
    pos = len(SOI)
    scans = 0
    for _ in range(MAX_SEGMENTS):
        marker, pos = _next_marker(data, pos)
        if marker == _EOI:
            break
        if marker in _STANDALONE:
            out.append(bytes((0xFF, marker)))
            continue
        if pos + 2 > len(data):
            raise InvalidImage(CORRUPT)
        (length,) = struct.unpack_from(">H", data, pos)
        end = pos + length
        if length < 2 or end > len(data):
            raise InvalidImage(CORRUPT)
        payload = data[pos + 2 : end]
        segment = data[pos - 2 : end]
        if marker in _SOF:
            if size is not None:
                raise InvalidImage(CORRUPT)  # hierarchical JPEG: nothing decodes it
            size = _frame_size(payload)
            check_size(*size, max_pixels)
            out.append(segment)
        elif marker == _SOS:
            scans += 1
            if size is None or scans > MAX_SCANS:
                raise InvalidImage(CORRUPT if size is None else TOO_COMPLEX)
            scan_end = _scan_end(data, end)
            out.append(segment)
            out.append(data[end:scan_end])
            end = scan_end
        elif marker == _APP0 and payload.startswith(b"JFIF\x00"):
            out.append(_jfif_without_thumbnail(segment))
        elif _kept(marker, payload):
            out.append(segment)
        elif marker == 0xE1 and not orientation and payload.startswith(b"Exif\x00\x00"):
            orientation = exif_orientation(payload)
        # Everything else is dropped: APP1 EXIF/XMP, APP13 Photoshop/IPTC, COM, other APPn, JPGn.
        pos = end
    else:
        raise InvalidImage(TOO_COMPLEX)
    if size is None:
        raise InvalidImage(CORRUPT)
    _check_tail(data[pos:])
    out.append(b"\xff\xd9")
    return JpegLayout(size[0], size[1], orientation or 1, b"".join(out))


def _jfif_without_thumbnail(segment: bytes) -> bytes:
    """JFIF may embed a thumbnail, which can show what a crop removed: keep only the density."""
    if len(segment) < 18:
        return b""  # a malformed JFIF header says nothing a decoder needs
    return b"\xff\xe0\x00\x10" + segment[4:16] + b"\x00\x00"


def _kept(marker: int, payload: bytes) -> bool:
    if marker in _TABLES:
        return True
    return marker in _KEEP_APP and payload.startswith(_KEEP_APP[marker])


def _next_marker(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data) or data[pos] != 0xFF:
        raise InvalidImage(CORRUPT)
    while pos < len(data) and data[pos] == 0xFF:  # fill bytes may precede any marker
        pos += 1
    if pos >= len(data) or data[pos] in (0x00, 0xD8):
        raise InvalidImage(CORRUPT)
    return data[pos], pos + 1


def _frame_size(payload: bytes) -> tuple[int, int]:
    if len(payload) < 6:
        raise InvalidImage(CORRUPT)
    height, width = struct.unpack_from(">HH", payload, 1)
    return width, height


def _scan_end(data: bytes, start: int) -> int:
    found = _SCAN_END.search(data, start)
    if found is None:
        raise InvalidImage(CORRUPT)  # the data ends inside a scan: truncated
    return found.start()


def _check_tail(tail: bytes) -> None:
    """After EOI: zero padding is fine; what phones append is cut off; anything else is refused.

    Phones append a second JPEG (MPF previews) or, for motion photos, an MP4 (an ISO-BMFF box
    whose type sits at offset 4). Both are dropped with the rest of the tail, so the stored file
    is never a polyglot; other trailers (ZIP, HTML, scripts) make the upload a polyglot: 400.
    """
    rest = tail.lstrip(b"\x00")
    if is_zero_padding(tail) or rest.startswith(b"\xff\xd8\xff") or tail[4:8] == b"ftyp":
        return
    raise UnsupportedFileType()
