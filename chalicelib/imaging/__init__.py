"""Image intake: type sniffing, pixel ceilings, metadata stripping and conversion of uploads."""

from chalicelib.imaging.intake import ImageTooLarge, PreparedImage, prepare

__all__ = ["ImageTooLarge", "PreparedImage", "prepare"]
