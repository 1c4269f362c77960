"""Pixel modes and colour profiles: any decoded Pillow image to sRGB float32.

Conversions run on the already down-sized image, so their cost does not
depend on the camera's resolution.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image, ImageCms

_SRGB = ImageCms.createProfile("sRGB")
_ICC_MODES = {"RGB": "RGB", "RGBA": "RGBA", "CMYK": "RGB", "L": "RGB", "LA": "RGBA"}


def profile_name(icc: bytes) -> str:
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return (ImageCms.getProfileDescription(profile) or "unnamed").strip()
    except Exception:
        return "unreadable"


def is_srgb(icc: bytes) -> bool:
    """True for the ordinary sRGB profiles cameras and editors embed (no work to do)."""
    name = profile_name(icc).lower()
    return name.startswith("srgb") and "linear" not in name


def convert_icc_to_srgb(image: Image.Image, notes: list[str]) -> Image.Image:
    """Convert through the embedded ICC profile, if any, to sRGB (8-bit modes)."""
    icc = image.info.get("icc_profile")
    if not icc:
        return image
    name = profile_name(icc)
    if is_srgb(icc) and image.mode in ("RGB", "RGBA"):
        return image  # already what we want; skip a costly no-op transform
    out_mode = _ICC_MODES.get(image.mode)
    if out_mode is None:
        notes.append(f"embedded colour profile '{name}' not applied to {image.mode} pixels")
        return image
    source = image
    if image.mode == "LA":  # lcms has no grey+alpha transform: convert grey, keep alpha
        source = image.getchannel("L")
        out_mode = "RGB"
    try:
        converted = ImageCms.profileToProfile(
            source,
            ImageCms.ImageCmsProfile(io.BytesIO(icc)),
            _SRGB,
            renderingIntent=ImageCms.Intent.PERCEPTUAL,
            outputMode=out_mode,
        )
    except Exception:
        notes.append(f"embedded colour profile '{name}' could not be applied; assumed sRGB")
        return image
    if image.mode == "LA":
        converted.putalpha(image.getchannel("A"))
    notes.append(f"converted from embedded colour profile '{name}' to sRGB")
    return converted


def to_float_rgb(image: Image.Image, notes: list[str]) -> tuple[np.ndarray, int]:
    """Pillow image of any mode -> (float32 RGB in [0, 1], source bit depth)."""
    mode = image.mode
    bit_depth = 8
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    elif mode == "1":
        image = image.convert("L")
        bit_depth = 1
    elif mode == "CMYK":
        image = image.convert("RGB")
    elif mode not in ("RGB", "RGBA", "L", "LA", "F") and not mode.startswith("I"):
        image = image.convert("RGBA" if "A" in mode or "a" in mode else "RGB")

    mode = image.mode
    if mode.startswith("I"):  # 16-bit (I;16, I;16B, ...) or 32-bit integer grey
        array = np.asarray(image).astype(np.float32)
        array = np.clip(array, 0, 65535) / 65535.0
        bit_depth = 16
    elif mode == "F":
        array = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
        bit_depth = 32
    else:
        # One pass to float (astype then divide would make and walk two arrays).
        array = np.divide(np.asarray(image, dtype=np.uint8), np.float32(255.0), dtype=np.float32)
    return finish_channels(array, notes), bit_depth


def finish_channels(array: np.ndarray, notes: list[str]) -> np.ndarray:
    """Grey -> RGB and alpha composited on white, for any float array in [0, 1]."""
    if array.ndim == 2:
        array = array[..., None]
    channels = array.shape[2]
    if channels in (2, 4):
        alpha = array[..., -1:]
        colour = array[..., :-1]
        if float(alpha.min()) < 1.0:
            notes.append("transparent areas analysed as if on white")
        array = colour * alpha + (1.0 - alpha)
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return np.ascontiguousarray(array, dtype=np.float32)


def resize_float(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to (width, height); a no-op when already that size.

    Area averaging is needed against aliasing when shrinking by 1.5x or more;
    for the small final step after a JPEG draft, bilinear is as good and 6x faster.
    """
    if (array.shape[1], array.shape[0]) == size:
        return array
    shrink = array.shape[1] / size[0]
    method = cv2.INTER_AREA if shrink >= 1.5 else cv2.INTER_LINEAR
    resized = cv2.resize(array, size, interpolation=method)
    return resized if resized.ndim == array.ndim else resized[..., None]
