"""Photo loading: every supported format in, one upright sRGB float image out."""

from critique_app.core.imaging.load import DEFAULT_MAX_PIXELS, DEFAULT_MAX_SIDE, load_photo
from critique_app.core.imaging.photo import ExifSummary, Photo

__all__ = ["DEFAULT_MAX_PIXELS", "DEFAULT_MAX_SIDE", "ExifSummary", "Photo", "load_photo"]
