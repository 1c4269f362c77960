"""Photo loading: every supported format in, one upright sRGB float image out."""

from critique_app.core.photo.decoded import ExifSummary, Photo
from critique_app.core.photo.load import DEFAULT_MAX_PIXELS, DEFAULT_MAX_SIDE, load_photo

__all__ = ["DEFAULT_MAX_PIXELS", "DEFAULT_MAX_SIDE", "ExifSummary", "Photo", "load_photo"]
