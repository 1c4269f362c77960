"""Exposure and contrast from the luminance histogram and clipping."""

from __future__ import annotations

import numpy as np

from critique_app.core.measurements.regions import grid_region

HIGHLIGHT_LEVEL = 250 / 255
CHANNEL_CLIP_LEVEL = 254 / 255
SHADOW_LEVEL = 5 / 255
HISTOGRAM_BINS = 32


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def measure_exposure(rgb: np.ndarray, luma: np.ndarray) -> dict:
    blown = (rgb >= HIGHLIGHT_LEVEL).all(axis=2)
    crushed = (rgb <= SHADOW_LEVEL).all(axis=2)
    any_clipped = (rgb >= CHANNEL_CLIP_LEVEL).any(axis=2)
    linear_y = float(srgb_to_linear(luma).mean())
    histogram, _ = np.histogram(luma, bins=HISTOGRAM_BINS, range=(0.0, 1.0))
    p2, p50, p98 = np.percentile(luma, [2, 50, 98])
    return {
        "exposure.mean_luminance": round(float(luma.mean()), 4),
        "exposure.median_luminance": round(float(p50), 4),
        "exposure.ev_vs_middle_grey": round(float(np.log2(max(linear_y, 1e-6) / 0.18)), 2),
        "exposure.highlights_clipped_pct": _pct(blown),
        "exposure.any_channel_clipped_pct": _pct(any_clipped),
        "exposure.shadows_clipped_pct": _pct(crushed),
        "exposure.highlights_clipped_where": grid_region(blown) if blown.mean() >= 0.001 else None,
        "exposure.shadows_clipped_where": grid_region(crushed) if crushed.mean() >= 0.001 else None,
        "exposure.histogram": [round(float(v), 5) for v in histogram / luma.size],
        "contrast.rms": round(float(luma.std()), 4),
        "contrast.tonal_range": round(float(p98 - p2), 4),
    }


def _pct(mask: np.ndarray) -> float:
    return round(float(mask.mean() * 100.0), 3)
