"""Open a photo file of any supported kind as an analysis-size :class:`Photo`.

Big JPEGs are never decoded in full: Pillow's draft mode lets libjpeg scale
by 1/2, 1/4 or 1/8 while decoding (DCT scaling), and the rest of the way is an
area resize of an image that is already small.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import cv2
import numpy as np
import pillow_heif
from PIL import Image, UnidentifiedImageError

from critique_app.core.photo import color
from critique_app.core.photo.decoded import Photo
from critique_app.core.photo.exif import apply_orientation, read_exif, upright_size
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


def check_pixel_limit(path: Path, size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise PhotoError(f"the image claims an impossible size of {width}×{height}", path=path)
    if width * height > max_pixels:
        raise PhotoError(
            f"the image is {width}×{height} ({width * height / 1e6:.0f} MP), over the "
            f"{max_pixels / 1e6:.0f} MP safety limit for decoding",
            path=path,
        )


def target_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """The analysis size for a stored size: long side at most ``max_side``."""
    width, height = size
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _load_with_pillow(path: Path, *, max_side: int, max_pixels: int) -> Photo:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        # Pillow reads a JPEG's EXIF while opening it and warns once about a corrupt block;
        # read_exif parses it again and turns that into a note on the photo instead.
        warnings.filterwarnings("ignore", category=UserWarning, module="PIL.TiffImagePlugin")
        image = Image.open(path)
    with image:
        return photo_from_pillow(image, path, max_side=max_side, max_pixels=max_pixels)


def photo_from_pillow(
    image: Image.Image,
    path: Path,
    *,
    max_side: int,
    max_pixels: int,
    source: str = "image",
    orientation: int | None = None,
) -> Photo:
    """Decode an opened (not yet loaded) Pillow image into a :class:`Photo`."""
    notes: list[str] = []
    stored_size = image.size
    check_pixel_limit(path, stored_size, max_pixels)
    fmt = image.format or "unknown"
    reading = read_exif(image)
    notes.extend(reading.notes)
    if orientation is None:
        orientation = reading.orientation
    if fmt == "MPO":
        # Most cameras write JPEGs with embedded previews (Multi-Picture Format), which
        # Pillow opens as MPO, at the first picture: the photo, a JPEG like any other.
        fmt = "JPEG"
    elif getattr(image, "n_frames", 1) > 1:
        image.seek(0)
        notes.append(f"{image.n_frames} frames/pages: the first one is analysed")

    target = target_size(stored_size, max_side)
    if fmt == "JPEG" and target != stored_size:
        image.draft(None, target)  # libjpeg DCT scaling; never smaller than target
    decode_scale = image.size[0] / stored_size[0]

    if _is_16bit_rgb(image) and not _has_non_srgb_profile(image):
        pixels = _decode_16bit_rgb(path, target)
        bit_depth = 16
        pixels = color.finish_channels(pixels, notes)
    else:
        image.load()
        image = _shrink_8bit(image, target)
        image = color.convert_icc_to_srgb(image, notes)
        pixels, bit_depth = color.to_float_rgb(image, notes)
        pixels = color.resize_float(pixels, target)

    pixels = np.ascontiguousarray(apply_orientation(pixels, orientation))
    if orientation != 1:
        notes.append(f"EXIF orientation {orientation} applied")
    return Photo(
        path=path,
        format=fmt,
        original_size=upright_size(stored_size, orientation),
        pixels=pixels,
        bit_depth=bit_depth,
        decode_scale=decode_scale,
        source=source,
        notes=notes,
        exif=reading.summary,
    )


def _shrink_8bit(image: Image.Image, target: tuple[int, int]) -> Image.Image:
    """Integer box reduction close to the target, so float conversion stays small."""
    factor = math.floor(image.size[0] / target[0])
    if factor >= 2 and image.mode in ("RGB", "RGBA", "L", "LA", "CMYK"):
        return image.reduce(factor)
    return image


def _is_16bit_rgb(image: Image.Image) -> bool:
    """Pillow keeps only 8 bits of 16-bit RGB(A); spot those to decode them ourselves."""
    if image.format not in ("PNG", "TIFF") or image.mode not in ("RGB", "RGBA"):
        return False
    rawmode = image.tile[0][3] if image.tile else ""
    if isinstance(rawmode, tuple):
        rawmode = rawmode[0]
    return ";16" in str(rawmode)


def _has_non_srgb_profile(image: Image.Image) -> bool:
    icc = image.info.get("icc_profile")
    return bool(icc) and not color.is_srgb(icc)


def _decode_16bit_rgb(path: Path, target: tuple[int, int]) -> np.ndarray:
    data = np.fromfile(path, dtype=np.uint8)
    decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.dtype != np.uint16 or decoded.ndim != 3:
        raise OSError("16-bit RGB data could not be decoded")
    order = [2, 1, 0, 3][: decoded.shape[2]]  # OpenCV's BGR(A) -> RGB(A)
    decoded = cv2.resize(decoded, target, interpolation=cv2.INTER_AREA)
    return decoded[..., order].astype(np.float32) / 65535.0
