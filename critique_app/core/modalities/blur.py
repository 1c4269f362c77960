"""Local blur: how far each region is from being in focus.

Re-blur ratio (after Elder & Zucker / Hu & de Haan): blurring a crisp edge
a little changes its gradient energy a lot, blurring an already soft edge
changes it little. For a Gaussian edge of width s, the ratio of gradient
energies before/after an extra blur of sigma0 is sqrt(s^2 + sigma0^2) / s,
which gives s per window. Areas without texture (a clear sky, a wall) carry
no evidence: their value comes from nearby textured areas, fading to 0
(not blurred) where there is none, so flat is never reported as blurred.
"""

from __future__ import annotations

import cv2
import numpy as np

from critique_app.core.modalities.base import OK, ModalityResult, map_stats, sample

METHOD = "re-blur gradient ratio (classical)"
MEANING = "strongly blurred"

SIGMA0 = 1.5  # the extra blur, in analysis pixels
SHARP_WIDTH = 1.0  # edge sigma (analysis px) treated as fully sharp ...
BLURRED_WIDTH = 3.5  # ... and as fully blurred
TEXTURE_LOW, TEXTURE_HIGH = 0.004, 0.015  # RMS gradient (luma/px) with no / full evidence


def _gradient_energy(gray: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3, scale=0.125)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3, scale=0.125)
    return gx * gx + gy * gy


def edge_width_map(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(edge blur sigma in pixels, texture confidence in [0, 1]) per pixel."""
    height, width = gray.shape
    window = max(7, (min(height, width) // 64) | 1)
    energy = cv2.boxFilter(_gradient_energy(gray), -1, (window, window))
    reblurred = cv2.GaussianBlur(gray, (0, 0), SIGMA0)
    energy_reblurred = cv2.boxFilter(_gradient_energy(reblurred), -1, (window, window))

    ratio_sq = np.maximum(energy, 0.0) / np.maximum(energy_reblurred, 1e-12)
    width_px = SIGMA0 / np.sqrt(np.maximum(ratio_sq - 1.0, 1e-4))
    rms = np.sqrt(np.maximum(energy_reblurred, 0.0))
    confidence = np.clip((rms - TEXTURE_LOW) / (TEXTURE_HIGH - TEXTURE_LOW), 0.0, 1.0)
    return width_px.astype(np.float32), confidence.astype(np.float32)


def _spread(values: np.ndarray, weights: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Normalised convolution at 1/4 size: weighted local mean and local weight."""
    height, width = values.shape
    small = (max(1, width // 4), max(1, height // 4))
    num = cv2.resize(values * weights, small, interpolation=cv2.INTER_AREA)
    den = cv2.resize(weights, small, interpolation=cv2.INTER_AREA)
    num = cv2.GaussianBlur(num, (0, 0), sigma / 4)
    den = cv2.GaussianBlur(den, (0, 0), sigma / 4)
    mean = num / np.maximum(den, 1e-6)
    mean = cv2.resize(mean, (width, height), interpolation=cv2.INTER_LINEAR)
    den = cv2.resize(den, (width, height), interpolation=cv2.INTER_LINEAR)
    return mean, den


def compute_blur(gray: np.ndarray, scale: float = 1.0) -> ModalityResult:
    """Blur map for a luminance image; ``scale`` = analysis px per original px."""
    width_px, confidence = edge_width_map(gray)
    raw = np.clip((width_px - SHARP_WIDTH) / (BLURRED_WIDTH - SHARP_WIDTH), 0.0, 1.0)

    sigma = max(gray.shape) / 20.0
    nearby, evidence = _spread(raw, confidence, sigma)
    coverage = np.clip(evidence / 0.15, 0.0, 1.0)  # fade to "not blurred" far from texture
    blur = confidence * raw + (1.0 - confidence) * nearby * coverage
    blur = np.clip(blur, 0.0, 1.0).astype(np.float32)

    textured = confidence > 0.5
    stats = map_stats(blur)
    stats["textured_share_pct"] = round(float(textured.mean() * 100.0), 2)
    if textured.any():
        median_width = float(np.median(sample(width_px[textured])))
        stats["edge_width_px"] = round(median_width, 2)
        stats["edge_width_full_res_px"] = round(median_width / max(scale, 1e-6), 2)
    else:
        stats["edge_width_px"] = None
        stats["edge_width_full_res_px"] = None
    stats["blurred_share_pct"] = stats.pop("share_above_half_pct")
    return ModalityResult(
        "blur", OK, METHOD, MEANING, map=blur, stats=stats, aux={"confidence": confidence}
    )
