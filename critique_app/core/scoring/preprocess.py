"""Photo or modality map -> the normalised square input a score network expects.

Critique's own models see the whole frame squashed to the square input rather than
cropped: a crop would cut away exactly the composition an aesthetic score is about
(NIMA trains on squashed images for the same reason). Pretrained scorers get what they
were trained on (``InputSpec.resize == "crop"``): the shorter side resized to the input
size with bicubic filtering (Pillow's, as CLIP's own preprocessing), then the centre
square.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from critique_app.core.scoring.backbone import InputSpec

PREPROCESS_VERSION = "squash-area-1"  # part of the results-cache key
CROP_PREPROCESS_VERSION = "crop-bicubic-1"  # the same for the "crop" resize


def preprocess_version(spec: InputSpec) -> str:
    """The results-cache key part for ``spec``'s resize (squash keeps its old key, so
    results cached before crops existed stay valid)."""
    return CROP_PREPROCESS_VERSION if spec.resize == "crop" else PREPROCESS_VERSION


def to_network_input(pixels: np.ndarray, spec: InputSpec) -> np.ndarray:
    """float32 RGB (H, W, 3) or a map (H, W) in [0, 1] -> float32 (3, S, S), normalised.

    A map (saliency, depth, blur) is repeated on three channels, so the modality
    scorers share the photo scorer's architecture and pretrained backbone.
    """
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    pixels = np.asarray(pixels, np.float32)
    if spec.resize == "crop":
        square = _shorter_side_then_centre(pixels, spec.size)
    else:
        height, width = pixels.shape[:2]
        method = cv2.INTER_AREA if min(height, width) > spec.size else cv2.INTER_CUBIC
        square = cv2.resize(pixels, (spec.size, spec.size), interpolation=method)
    square = np.clip(square, 0.0, 1.0)
    square = (square - np.float32(spec.mean)) / np.float32(spec.std)
    return np.ascontiguousarray(square.transpose(2, 0, 1), dtype=np.float32)


def _shorter_side_then_centre(pixels: np.ndarray, size: int) -> np.ndarray:
    """Shorter side to ``size`` (Pillow bicubic, antialiased like CLIP's processor), then the
    centre ``size`` x ``size`` square."""
    height, width = pixels.shape[:2]
    scale = size / min(height, width)
    new_w, new_h = max(size, int(width * scale)), max(size, int(height * scale))
    channels = [np.asarray(Image.fromarray(np.ascontiguousarray(pixels[..., c]), mode="F")
                           .resize((new_w, new_h), Image.Resampling.BICUBIC))
                for c in range(pixels.shape[2])]
    resized = np.stack(channels, axis=2)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    return resized[top:top + size, left:left + size]
