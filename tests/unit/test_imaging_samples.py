"""Sample images for the imaging tests, built with Pillow (and a tiny XCF writer), and their checks."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

from PIL import Image, ImageChops, ImageCms, ImageStat

CANARIES = (b"SnoopCam", b"WGS-84", b"secret-caption", b"secret-comment", b"8BIM", b"Photoshop")
FORBIDDEN = (b"Exif", b"http://ns.adobe.com/xap", b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"tIME", b"GPS")
XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="secret-caption"/>'
    b'</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)


def picture(size: tuple[int, int] = (120, 80)) -> Image.Image:
    """An RGB test card: a gradient with a red block top-left, so turns and flips are visible."""
    width, height = size
    image = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize(size),
            Image.linear_gradient("L").rotate(90).resize(size),
            Image.new("L", size, 90),
        ),
    )
    image.paste((255, 0, 0), (0, 0, width // 3, height // 3))
    return image


def encode(image: Image.Image, fmt: str, **params: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def exif_block(orientation: int = 1) -> bytes:
    """EXIF with a camera make, an orientation and a GPS position (with the datum as a canary)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "SnoopCam"
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (52.0, 31.0, 12.5)
    gps[0x12] = "WGS-84"
    return exif.tobytes()


def jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def photoshop_segment() -> bytes:
    iptc = b"\x1c\x02\x78" + struct.pack(">H", 14) + b"secret-caption"
    block = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iptc)) + iptc
    return jpeg_segment(0xED, b"Photoshop 3.0\x00" + block)


def insert_after_soi(jpeg: bytes, *segments: bytes) -> bytes:
    return jpeg[:2] + b"".join(segments) + jpeg[2:]


def camera_jpeg(orientation: int = 1, size: tuple[int, int] = (120, 80), **params: Any) -> bytes:
    """A JPEG carrying everything a phone or an editor leaves: EXIF+GPS, XMP, IPTC, a comment, ICC."""
    data = encode(
        picture(size),
        "JPEG",
        quality=90,
        exif=exif_block(orientation),
        xmp=XMP,
        comment=b"secret-comment",
        icc_profile=srgb_profile(),
        **params,
    )
    return insert_after_soi(data, photoshop_segment())


def png_chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, body) of every chunk, to inspect what a PNG carries."""
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        chunks.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return chunks


def png_insert_before_idat(data: bytes, *chunks: bytes) -> bytes:
    index = data.index(b"IDAT") - 4
    return data[:index] + b"".join(chunks) + data[index:]


def tagged_png(image: Image.Image | None = None, orientation: int = 1, **params: Any) -> bytes:
    """A PNG with text, compressed text, international text (XMP), EXIF, a time stamp and ICC."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Author", "SnoopCam")
    info.add_text("Comment", "secret-comment", zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    info.add(b"tIME", struct.pack(">HBBBBB", 2024, 5, 6, 7, 8, 9))
    image = image if image is not None else picture()
    return encode(
        image, "PNG", pnginfo=info, exif=exif_block(orientation), icc_profile=srgb_profile(), **params
    )


def gif_application_block(identifier: bytes, payload: bytes) -> bytes:
    return b"\x21\xff\x0b" + identifier + bytes((len(payload),)) + payload + b"\x00"


def animated_frames(count: int = 3, size: tuple[int, int] = (60, 40)) -> list[Image.Image]:
    """Frames that differ everywhere, so encoders cannot shrink them to a changed rectangle."""
    colours = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30), (30, 200, 200)]
    return [Image.new("RGB", size, colours[i % len(colours)]) for i in range(count)]


def animated_gif(count: int = 3, size: tuple[int, int] = (60, 40)) -> bytes:
    frames = [frame.convert("P") for frame in animated_frames(count, size)]
    data = encode(
        frames[0],
        "GIF",
        save_all=True,
        append_images=frames[1:],
        duration=70,
        loop=0,
        comment=b"secret-comment",
    )
    # An XMP application block after the header, as editors write it.
    header_end = data.index(b"\x21\xff\x0bNETSCAPE2.0")
    return data[:header_end] + gif_application_block(b"XMP DataXMP", b"secret-caption") + data[header_end:]


def apng(count: int = 3, size: tuple[int, int] = (60, 40)) -> bytes:
    frames = animated_frames(count, size)
    data = encode(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=70, loop=0)
    return png_insert_before_idat(data, png_chunk(b"tEXt", b"Author\x00SnoopCam"))


def one_bit_png(width: int, height: int) -> bytes:
    """A valid all-black 1-bit PNG of any size, compressed row by row (no big buffer in memory)."""
    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )


def xcf(canvas: tuple[int, int], layers: list[tuple[Image.Image, int, int]]) -> bytes:
    """A GIMP XCF v001: RGB canvas, uncompressed tiles, one RGBA layer per (image, x, y), top first."""
    width, height = canvas
    header = b"gimp xcf v001\x00" + struct.pack(">III", width, height, 0)
    header += struct.pack(">IIB", 17, 1, 0) + struct.pack(">II", 0, 0)  # PROP_COMPRESSION none, PROP_END
    offset = len(header) + 4 * (len(layers) + 2)
    pointers, blobs = [], []
    for image, x, y in layers:
        blob = _xcf_layer(image.convert("RGBA"), x, y, offset)
        pointers.append(offset)
        blobs.append(blob)
        offset += len(blob)
    table = b"".join(struct.pack(">I", p) for p in pointers) + struct.pack(">II", 0, 0)
    return header + table + b"".join(blobs)


def _xcf_layer(image: Image.Image, x: int, y: int, offset: int) -> bytes:
    width, height = image.size
    properties = (
        struct.pack(">IIi", 8, 4, 1)  # PROP_VISIBLE
        + struct.pack(">III", 7, 4, 0)  # PROP_MODE normal
        + struct.pack(">IIf", 33, 4, 1.0)  # PROP_FLOAT_OPACITY
        + struct.pack(">IIii", 15, 8, x, y)  # PROP_OFFSETS
        + struct.pack(">II", 0, 0)
    )
    head = struct.pack(">IIII", width, height, 1, 2) + b"L\x00" + properties
    hierarchy = offset + len(head) + 8
    level = hierarchy + 20
    tiles = [
        image.crop((tx, ty, min(tx + 64, width), min(ty + 64, height))).tobytes()
        for ty in range(0, height, 64)
        for tx in range(0, width, 64)
    ]
    tile_offset = level + 8 + 4 * (len(tiles) + 1)
    tile_pointers = b""
    for tile in tiles:
        tile_pointers += struct.pack(">I", tile_offset)
        tile_offset += len(tile)
    return (
        head
        + struct.pack(">II", hierarchy, 0)
        + struct.pack(">IIIII", width, height, 4, level, 0)
        + struct.pack(">II", width, height)
        + tile_pointers
        + struct.pack(">I", 0)
        + b"".join(tiles)
    )


def difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel, 0–255; images must have the same size."""
    assert a.size == b.size, (a.size, b.size)
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    return sum(ImageStat.Stat(diff).mean) / 3


def open_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_samples_xcf_writer_is_read_back_by_gimpformats() -> None:
    from gimpformats.gimpXcfDocument import GimpDocument

    document = GimpDocument()
    document.decode(xcf((40, 30), [(picture((40, 30)).convert("RGBA"), 0, 0)]))
    assert document.image.size == (40, 30)
    assert difference(document.image, picture((40, 30))) < 1


def test_samples_camera_jpeg_carries_every_kind_of_metadata() -> None:
    data = camera_jpeg()
    for needle in (b"Exif", b"http://ns.adobe.com/xap", *CANARIES, b"ICC_PROFILE"):
        assert needle in data, needle


def test_samples_tagged_png_carries_every_kind_of_metadata() -> None:
    kinds = {ctype for ctype, _ in png_chunks(tagged_png())}
    assert {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME", b"iCCP"} <= kinds
