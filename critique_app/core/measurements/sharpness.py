"""Sharpness of the whole frame, the subject and the background, from the blur map."""

from __future__ import annotations

import numpy as np

from critique_app.core.maps.base import MapResult


def _weighted_sharpness(blur: np.ndarray, weights: np.ndarray) -> float | None:
    total = float(weights.sum())
    if total < 1e-4 * weights.size:  # essentially no textured pixels carry this weight
        return None
    return round(1.0 - float((blur * weights).sum()) / total, 3)


def _thinned(values: np.ndarray, keep: int = 65_536) -> np.ndarray:
    """A regular grid of about ``keep`` pixels. The blur, confidence and saliency maps
    are upsampled from small work maps, so weighted means over the grid equal those
    over every pixel to well within the 3 decimals reported."""
    stride = max(1, int(np.sqrt(values.size / keep)))
    return values[::stride, ::stride]


def measure_sharpness(blur: MapResult, saliency: np.ndarray | None) -> dict:
    confidence = _thinned(blur.aux["confidence"])
    blur_map = _thinned(blur.map)
    result = {
        "sharpness.global": _weighted_sharpness(blur_map, confidence),
        "sharpness.subject": None,
        "sharpness.background": None,
        "sharpness.subject_background_ratio": None,
        "sharpness.edge_width_px": blur.stats.get("edge_width_full_res_px"),
        "sharpness.blurred_pct": blur.stats.get("blurred_share_pct"),
    }
    if saliency is not None:
        saliency = _thinned(saliency)
        subject = _weighted_sharpness(blur_map, confidence * saliency)
        background = _weighted_sharpness(blur_map, confidence * (1.0 - saliency))
        result["sharpness.subject"] = subject
        result["sharpness.background"] = background
        if subject is not None and background:
            result["sharpness.subject_background_ratio"] = round(subject / background, 2)
    return result
