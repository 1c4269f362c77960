"""Sharpness of the whole frame, the subject and the background, from the blur map."""

from __future__ import annotations

import numpy as np

from critique_app.core.modalities.base import ModalityResult


def _weighted_sharpness(blur: np.ndarray, weights: np.ndarray) -> float | None:
    total = float(weights.sum())
    if total < 1e-4 * weights.size:  # essentially no textured pixels carry this weight
        return None
    return round(1.0 - float((blur * weights).sum()) / total, 3)


def measure_sharpness(blur: ModalityResult, saliency: np.ndarray | None) -> dict:
    confidence = blur.aux["confidence"]
    blur_map = blur.map
    result = {
        "sharpness.global": _weighted_sharpness(blur_map, confidence),
        "sharpness.subject": None,
        "sharpness.background": None,
        "sharpness.subject_background_ratio": None,
        "sharpness.edge_width_px": blur.stats.get("edge_width_full_res_px"),
        "sharpness.blurred_pct": blur.stats.get("blurred_share_pct"),
    }
    if saliency is not None:
        subject = _weighted_sharpness(blur_map, confidence * saliency)
        background = _weighted_sharpness(blur_map, confidence * (1.0 - saliency))
        result["sharpness.subject"] = subject
        result["sharpness.background"] = background
        if subject is not None and background:
            result["sharpness.subject_background_ratio"] = round(subject / background, 2)
    return result
