"""Decoding an opened Pillow image into an analysis-size :class:`Photo`.

Shared by the loader (any image file) and the RAW reader (a camera's embedded preview),
below both, so neither imports the other's internals.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from critique_app.core.photo import color
from critique_app.core.photo.decoded import Photo
from critique_app.core.photo.exif import apply_orientation, read_exif, upright_size
from critique_app.core.util.errors import PhotoError


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


def photo_from_pillow(
    image: Image.Image,
    path: Path,
    *,
    max_side: int,
    max_pixels: int,
    decoded_from: str = "image",
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
        decoded_from=decoded_from,
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
