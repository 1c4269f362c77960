"""Exposure and contrast from the luminance histogram and clipping.

Clipping is counted on every pixel (its share must be exact), at the 8-bit
levels a photographer's histogram shows; the luminance percentiles come from
a fine histogram, which is exact to 1/1024.
"""

from __future__ import annotations

import cv2
import numpy as np

from critique_app.core.measurements.regions import grid_region

HIGHLIGHT_LEVEL = 250  # of 255
CHANNEL_CLIP_LEVEL = 254
SHADOW_LEVEL = 5
HISTOGRAM_BINS = 32
_FINE_BINS = 1024


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def _percentiles(fine_histogram: np.ndarray, fractions: list[float]) -> list[float]:
    cumulative = np.cumsum(fine_histogram) / fine_histogram.sum()
    return [float(np.searchsorted(cumulative, f) + 0.5) / _FINE_BINS for f in fractions]


def _at_least(values: np.ndarray, level: int) -> np.ndarray:
    """Float [0, 1] values that round to ``level`` (0-255) or more."""
    return values >= (level - 0.5) / 255.0


def measure_exposure(rgb: np.ndarray, luma: np.ndarray) -> dict:
    red, green, blue = cv2.split(rgb)
    brightest = cv2.max(cv2.max(red, green), blue)
    darkest = cv2.min(cv2.min(red, green), blue)
    blown = _at_least(darkest, HIGHLIGHT_LEVEL)
    crushed = ~_at_least(brightest, SHADOW_LEVEL + 1)
    any_clipped = _at_least(brightest, CHANNEL_CLIP_LEVEL)

    # Percentiles and the mean of linear light from every 4th pixel: to 1/1024 they
    # agree with a full count, and the clipped shares above are exact.
    some = luma[::2, ::2]
    bins = np.minimum((some * _FINE_BINS).astype(np.int32), _FINE_BINS - 1)
    fine = np.bincount(bins.ravel(), minlength=_FINE_BINS).astype(np.float64)
    histogram = fine.reshape(HISTOGRAM_BINS, -1).sum(axis=1) / fine.sum()
    centres = (np.arange(_FINE_BINS) + 0.5) / _FINE_BINS
    linear_y = float((fine * srgb_to_linear(centres)).sum() / fine.sum())
    p2, p50, p98 = _percentiles(fine, [0.02, 0.5, 0.98])
    highlights_pct, shadows_pct = _pct(blown), _pct(crushed)
    return {
        "exposure.mean_luminance": round(float(luma.mean()), 4),
        "exposure.median_luminance": round(p50, 4),
        "exposure.ev_vs_middle_grey": round(float(np.log2(max(linear_y, 1e-6) / 0.18)), 2),
        "exposure.highlights_clipped_pct": highlights_pct,
        "exposure.any_channel_clipped_pct": _pct(any_clipped),
        "exposure.shadows_clipped_pct": shadows_pct,
        "exposure.highlights_clipped_where": grid_region(blown) if highlights_pct >= 0.1 else None,
        "exposure.shadows_clipped_where": grid_region(crushed) if shadows_pct >= 0.1 else None,
        "exposure.histogram": [round(float(v), 5) for v in histogram],
        "contrast.rms": round(float(luma.std()), 4),
        "contrast.tonal_range": round(p98 - p2, 4),
    }


def _pct(mask: np.ndarray) -> float:
    return round(float(np.count_nonzero(mask)) * 100.0 / mask.size, 3)
