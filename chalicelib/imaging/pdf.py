"""PDF intake: the first page rendered with pypdfium2 as a PNG, its size fixed before rendering."""

from __future__ import annotations

import math

from chalicelib.errors import InvalidImage
from chalicelib.imaging.convert import encode_png
from chalicelib.imaging.limits import CORRUPT, ImageTooLarge, check_size, decoding

PDF_DPI = 150
PDF_MAX_SIDE = 4096
_POINTS_PER_INCH = 72


def pdf_to_png(data: bytes, max_pixels: int) -> tuple[bytes, int, int]:
    """Render the first page at 150 DPI, scaled down to the side and pixel limits beforehand."""
    import pypdfium2 as pdfium

    with decoding(max_pixels):
        pdf = pdfium.PdfDocument(data)
        try:
            if len(pdf) < 1:
                raise InvalidImage(CORRUPT)
            page = pdf[0]
            scale = render_scale(page.get_width(), page.get_height(), max_pixels)
            bitmap = page.render(scale=scale, fill_color=(255, 255, 255, 255), may_draw_forms=False)
            # convert() copies: the bitmap's buffer is freed with the document below.
            image = bitmap.to_pil().convert("RGB")
            bitmap.close()
            page.close()
        finally:
            pdf.close()
        check_size(image.width, image.height, max_pixels)
        return encode_png(image, None)


def render_scale(width_pt: float, height_pt: float, max_pixels: int) -> float:
    """The pypdfium2 scale for a page: 150 DPI unless the longest side or the pixels need less."""
    if not (math.isfinite(width_pt) and math.isfinite(height_pt)) or width_pt <= 0 or height_pt <= 0:
        raise InvalidImage(CORRUPT)
    # pypdfium2 rounds each side up, and 120 pt × 150/72 lands a hair above 250: shave the scale
    # so that an exact size stays exact.
    scale = PDF_DPI / _POINTS_PER_INCH * (1 - 1e-9)
    scale = min(scale, PDF_MAX_SIDE / max(width_pt, height_pt))
    scale = min(scale, math.sqrt(max_pixels / (width_pt * height_pt)))
    # Step down until the rounded-up size fits too.
    for _ in range(64):
        width, height = math.ceil(width_pt * scale), math.ceil(height_pt * scale)
        if width * height <= max_pixels and max(width, height) <= PDF_MAX_SIDE:
            return scale
        scale *= 0.97
    raise ImageTooLarge(max_pixels)  # a page so thin that even one pixel across is too many
