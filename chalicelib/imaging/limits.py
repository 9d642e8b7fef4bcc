"""The pixel ceiling: refusing oversized images from their headers, and making Pillow enforce it too."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from chalicelib.errors import BadRequest, ImgshelfError, InvalidImage

CORRUPT = "Image is corrupt or truncated"

# An animation may hold several full-size frames, but decoding is paid per frame: the sum over all
# frames is capped at this multiple of the single-frame ceiling.
ANIMATION_FACTOR = 4
# Pillow composites every frame onto a full canvas (≈0.55 ms per megapixel plus ≈25 µs per frame
# here), so 400,000 one-pixel frames on a large canvas would take minutes although they hold few
# pixels. Frames × canvas is capped at this multiple of the ceiling (≈1.2 s at 50 MP)...
COMPOSITE_FACTOR = 40
# ...and the number of frames outright.
MAX_FRAMES = 10_000
TOO_LONG = "Animation has too many frames to process"


class ImageTooLarge(BadRequest):
    """The image (or one of its frames, or its rendering) has more pixels than the ceiling allows."""

    def __init__(self, max_pixels: int, message: str | None = None) -> None:
        super().__init__(message or f"Image is larger than {max_pixels / 1_000_000:g} megapixels")


def check_size(width: int, height: int, max_pixels: int) -> None:
    """Refuse an empty or over-ceiling width × height before anything is decoded."""
    if width <= 0 or height <= 0:
        raise InvalidImage(CORRUPT)
    if width * height > max_pixels:
        raise ImageTooLarge(max_pixels)


class FrameBudget:
    """Counts the pixels of an animation's frames as their headers are read."""

    def __init__(self, max_pixels: int, factor: int = ANIMATION_FACTOR) -> None:
        self.max_pixels = max_pixels
        self.limit = max_pixels * factor
        self.total = 0
        self.frames = 0

    def add(self, width: int, height: int) -> None:
        check_size(width, height, self.max_pixels)
        self.total += width * height
        self.frames += 1
        if self.total > self.limit:
            raise ImageTooLarge(self.max_pixels)
        if self.frames > MAX_FRAMES:
            raise ImageTooLarge(self.max_pixels, TOO_LONG)

    def check_compositing(self, width: int, height: int) -> None:
        """Refuse when drawing every frame onto the canvas would cost too much."""
        if self.frames * width * height > self.max_pixels * COMPOSITE_FACTOR:
            raise ImageTooLarge(self.max_pixels, TOO_LONG)


@contextmanager
def decoding(max_pixels: int) -> Iterator[None]:
    """Run a decoder under the ceiling; whatever it raises on hostile input becomes a 400.

    Pillow only warns (DecompressionBombWarning) between MAX_IMAGE_PIXELS and twice that, so the
    warning is made an error here, locally, and the global limit is restored afterwards.
    """
    from PIL import Image, ImageFile

    saved = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
    Image.MAX_IMAGE_PIXELS = max_pixels
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            # Pillow's other warnings (odd EXIF, odd TIFF tags) say nothing we act on.
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as e:
        raise ImageTooLarge(max_pixels) from e
    except ImgshelfError:
        raise
    except Exception as e:
        # Decoders answer hostile input with a grab-bag of types (OSError, SyntaxError, ValueError,
        # EOFError, struct.error, IndexError, MemoryError, PdfiumError, RuntimeError...): all of
        # them mean this upload cannot be read.
        raise InvalidImage(CORRUPT) from e
    finally:
        Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = saved
