"""GIMP XCF intake: the headers checked against the ceilings, then flattened by gimpformats."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from chalicelib.errors import InvalidImage
from chalicelib.imaging.convert import encode_png
from chalicelib.imaging.limits import CORRUPT, ImageTooLarge, check_size, decoding

# gimpformats decodes tiles in pure Python and blends every layer as canvas-sized float arrays:
# about 0.4–1.1 s and ~240 bytes of memory per megapixel per layer on this project's machines.
# XCF therefore has its own, lower ceilings on top of max_pixels.
XCF_MAX_PIXELS = 4_000_000  # canvas, and each layer or mask once padded out to its offset
XCF_MAX_WORK = 24_000_000  # Σ over layers of canvas + padded layer + mask pixels: ≈10 s at worst
XCF_MAX_ITEMS = 256  # layers + channels, each parsed eagerly by gimpformats
_MAX_PROPERTIES = 1024  # per property list; GIMP writes a few dozen
_TOO_MANY_LAYERS = "Image has too many or too large layers to flatten"
_PROP_END, _PROP_OFFSETS, _PROP_GROUP_ITEM = 0, 15, 29


@dataclass(frozen=True)
class _Item:
    """A layer or channel header: its size, its offset on the canvas and its pointers."""

    width: int
    height: int
    x: int
    y: int
    group: bool
    hierarchy: int
    mask: int


def xcf_to_png(data: bytes, max_pixels: int) -> tuple[bytes, int, int]:
    """Flatten an XCF with gimpformats after checking the canvas and every layer from the headers."""
    limit = min(max_pixels, XCF_MAX_PIXELS)
    try:
        _check_headers(data, limit)
    except struct.error as e:
        raise InvalidImage(CORRUPT) from e
    from gimpformats.gimpXcfDocument import GimpDocument

    with decoding(limit):
        document = GimpDocument()
        document.decode(data)
        image = document.image
        icc = next((p.data for p in document.parasites if p.name == "icc-profile"), None)
        return encode_png(image, bytes(icc) if icc else None)


def _check_headers(data: bytes, limit: int) -> None:
    """Walk the structure the XCF spec describes, reading sizes only (no tile is touched).

    gimpformats trusts every size it reads: a hierarchy larger than its layer makes it decode
    millions of tiles, and a layer offset of 16 million makes blendmodes pad the layer with a
    gigabytes-large array. Both are refused here first.
    """
    version = 0 if data[9:13] == b"file" else int(data[10:13])
    pointer = ">Q" if version >= 11 else ">I"
    width, height = struct.unpack_from(">II", data, 14)
    check_size(width, height, limit)
    _, pos = _properties(data, 26 + (4 if version >= 4 else 0))  # precision field from v4
    layers, pos = _pointers(data, pos, pointer)
    channels, _ = _pointers(data, pos, pointer)
    if len(layers) + len(channels) > XCF_MAX_ITEMS:
        raise ImageTooLarge(limit, _TOO_MANY_LAYERS)
    work = 0
    for offset in layers:
        layer = _item(data, offset, pointer, is_layer=True)
        work += width * height + _padded(layer, limit)
        if not layer.group:
            _check_hierarchy(data, layer)
        if layer.mask:
            mask = _item(data, layer.mask, pointer, is_layer=False)
            _check_hierarchy(data, mask)
            work += _padded(mask, limit)
    if work > XCF_MAX_WORK:
        raise ImageTooLarge(limit, _TOO_MANY_LAYERS)


def _item(data: bytes, offset: int, pointer: str, *, is_layer: bool) -> _Item:
    width, height = struct.unpack_from(">II", data, offset)
    pos = offset + (12 if is_layer else 8)  # layers carry a colour type after the size
    (name_length,) = struct.unpack_from(">I", data, pos)
    properties, pos = _properties(data, pos + 4 + name_length)
    x, y = struct.unpack(">ii", properties[_PROP_OFFSETS]) if _PROP_OFFSETS in properties else (0, 0)
    (hierarchy,) = struct.unpack_from(pointer, data, pos)
    mask = struct.unpack_from(pointer, data, pos + struct.calcsize(pointer))[0] if is_layer else 0
    return _Item(width, height, x, y, _PROP_GROUP_ITEM in properties, hierarchy, mask)


def _padded(item: _Item, limit: int) -> int:
    """The pixels blendmodes allocates for an item: its size, padded out to a positive offset."""
    check_size(item.width, item.height, limit)
    padded = (max(item.x, 0) + item.width) * (max(item.y, 0) + item.height)
    if padded > limit:
        raise ImageTooLarge(limit, _TOO_MANY_LAYERS)
    return padded


def _check_hierarchy(data: bytes, item: _Item) -> None:
    if item.hierarchy == 0:
        raise InvalidImage(CORRUPT)
    if struct.unpack_from(">II", data, item.hierarchy) != (item.width, item.height):
        raise InvalidImage(CORRUPT)  # pixel data sized otherwise than its layer


def _properties(data: bytes, pos: int) -> tuple[dict[int, bytes], int]:
    """A property list as {type: payload} (the last of each type wins) and the offset after it."""
    found: dict[int, bytes] = {}
    for _ in range(_MAX_PROPERTIES):
        kind, length = struct.unpack_from(">II", data, pos)
        pos += 8
        if kind == _PROP_END:
            return found, pos
        if kind == _PROP_OFFSETS and length != 8:
            raise InvalidImage(CORRUPT)
        found[kind] = data[pos : pos + length]
        pos += length
    raise InvalidImage(CORRUPT)


def _pointers(data: bytes, pos: int, pointer: str) -> tuple[list[int], int]:
    size = struct.calcsize(pointer)
    found: list[int] = []
    while len(found) <= XCF_MAX_ITEMS:
        (offset,) = struct.unpack_from(pointer, data, pos)
        pos += size
        if offset == 0:
            return found, pos
        found.append(offset)
    raise ImageTooLarge(XCF_MAX_PIXELS, _TOO_MANY_LAYERS)
