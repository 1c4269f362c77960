"""Degrade real photos in known ways, so tests know the right answer."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from critique_app.core.photo import Photo


def as_photo(rgb: np.ndarray, name: str = "edited.png") -> Photo:
    """Wrap float or uint8 RGB pixels as a Photo, exactly as given (no resize)."""
    pixels = rgb.astype(np.float32) / 255.0 if rgb.dtype == np.uint8 else rgb.astype(np.float32)
    height, width = pixels.shape[:2]
    return Photo(path=Path(name), format="PNG", original_size=(width, height),
                 pixels=np.clip(pixels, 0, 1))


def rotate_and_crop(rgb: np.ndarray, clockwise_deg: float, crop: float = 0.85) -> np.ndarray:
    """Rotate the scene clockwise by some degrees and crop away the empty corners."""
    height, width = rgb.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), -clockwise_deg, 1.0)
    rotated = cv2.warpAffine(rgb, matrix, (width, height), flags=cv2.INTER_CUBIC,
                             borderMode=cv2.BORDER_REFLECT)
    ch, cw = int(height * crop), int(width * crop)
    top, left = (height - ch) // 2, (width - cw) // 2
    return rotated[top:top + ch, left:left + cw]
