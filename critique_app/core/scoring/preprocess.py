"""Photo or modality map -> the normalised square input a score network expects.

The whole frame is squashed to the square input rather than cropped: a crop
would cut away exactly the composition an aesthetic score is about (NIMA
trains on squashed images for the same reason).
"""

from __future__ import annotations

import cv2
import numpy as np

from critique_app.core.scoring.backbone import InputSpec

PREPROCESS_VERSION = "squash-area-1"  # part of the results-cache key


def to_network_input(pixels: np.ndarray, spec: InputSpec) -> np.ndarray:
    """float32 RGB (H, W, 3) or a map (H, W) in [0, 1] -> float32 (3, S, S), normalised.

    A map (saliency, depth, blur) is repeated on three channels, so the modality
    scorers share the photo scorer's architecture and pretrained backbone.
    """
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    height, width = pixels.shape[:2]
    method = cv2.INTER_AREA if min(height, width) > spec.size else cv2.INTER_CUBIC
    square = cv2.resize(np.asarray(pixels, np.float32), (spec.size, spec.size),
                        interpolation=method)
    square = np.clip(square, 0.0, 1.0)
    square = (square - np.float32(spec.mean)) / np.float32(spec.std)
    return np.ascontiguousarray(square.transpose(2, 0, 1), dtype=np.float32)
