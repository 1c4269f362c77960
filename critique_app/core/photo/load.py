"""Open a photo file of any supported kind as an analysis-size :class:`Photo`.

Big JPEGs are never decoded in full: Pillow's draft mode lets libjpeg scale
by 1/2, 1/4 or 1/8 while decoding (DCT scaling), and the rest of the way is an
area resize of an image that is already small.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pillow_heif
from PIL import Image, UnidentifiedImageError

from critique_app.core.photo.decoded import Photo
from critique_app.core.photo.pillow_decode import photo_from_pillow
from critique_app.core.photo.raw import RAW_EXTENSIONS, load_raw
from critique_app.core.util.errors import CritiqueError, PhotoError

DEFAULT_MAX_SIDE = 1280  # analysis size: ~1.1 MP for 3:2, within the 1-2 MP the maps need
DEFAULT_MAX_PIXELS = 250_000_000  # decompression-bomb guard; above any camera, below a bomb

IMAGE_EXTENSIONS = {
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".tif", ".tiff", ".webp", ".bmp", ".dib",
    ".gif", ".heic", ".heif", ".hif", ".avif",
}  # fmt: skip
SUPPORTED_TEXT = "JPEG, PNG, TIFF, WebP, BMP, GIF, HEIC/HEIF, AVIF and camera RAW"

pillow_heif.register_heif_opener()
# Our own pixel limit (checked on the header, before decoding) replaces Pillow's
# global one, which would refuse large panoramas and medium-format files.
Image.MAX_IMAGE_PIXELS = None


def load_photo(
    path: str | Path,
    *,
    max_side: int = DEFAULT_MAX_SIDE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Photo:
    """Load ``path`` as an upright sRGB photo whose long side is at most ``max_side``.

    Raises :class:`PhotoError` with a one-line, photographer-readable message
    for every kind of bad input.
    """
    path = Path(path)
    file_size = _check_file(path)
    try:
        if path.suffix.lower() in RAW_EXTENSIONS:
            photo = load_raw(path, max_side=max_side, max_pixels=max_pixels)
        else:
            photo = _load_with_pillow(path, max_side=max_side, max_pixels=max_pixels)
    except CritiqueError:
        raise
    except UnidentifiedImageError:
        raise _unidentified(path) from None
    except Image.DecompressionBombError:
        raise PhotoError("the image is too large to open safely", path=path) from None
    except MemoryError:
        raise PhotoError("not enough memory to decode this image", path=path) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError) as error:
        raise _decode_failure(path, error) from None
    photo.file_size = file_size
    return photo


def _check_file(path: Path) -> int:
    if not path.exists():
        raise PhotoError("file not found", path=path)
    if path.is_dir():
        raise PhotoError("this is a folder, not a photo", path=path)
    try:
        size = path.stat().st_size
        with path.open("rb"):
            pass
    except PermissionError:
        raise PhotoError("permission denied: the file cannot be read", path=path) from None
    except OSError as error:
        raise PhotoError(f"the file cannot be read ({error.strerror})", path=path) from None
    if size == 0:
        raise PhotoError("the file is empty (0 bytes)", path=path)
    return size


def _unidentified(path: Path) -> PhotoError:
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        kind = suffix.lstrip(".").upper()
        return PhotoError(
            f"not a valid {kind} image: the file is corrupt or is not an image at all", path=path
        )
    shown = f"'{suffix}'" if suffix else "without an extension"
    return PhotoError(f"unsupported file type {shown}; Critique reads {SUPPORTED_TEXT}", path=path)


def _decode_failure(path: Path, error: Exception) -> PhotoError:
    text = str(error).lower()
    if "truncated" in text or isinstance(error, EOFError) or "premature end" in text:
        return PhotoError(
            "the image data is truncated: the file ends before the picture does "
            "(an interrupted copy or download?)",
            path=path,
        )
    return PhotoError(f"the image data is corrupt and cannot be decoded ({error})", path=path)


def _load_with_pillow(path: Path, *, max_side: int, max_pixels: int) -> Photo:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        # Pillow reads a JPEG's EXIF while opening it and warns once about a corrupt block;
        # read_exif parses it again and turns that into a note on the photo instead.
        warnings.filterwarnings("ignore", category=UserWarning, module="PIL.TiffImagePlugin")
        image = Image.open(path)
    with image:
        return photo_from_pillow(image, path, max_side=max_side, max_pixels=max_pixels)
