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

from critique_app.core.maps.base import OK, MapResult, map_stats, sample

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


def _block_means(values: np.ndarray, factor: int) -> np.ndarray:
    """Mean of each factor x factor block (a remainder row or column is dropped):
    a box filter read at every factor-th pixel, 2.5x faster than an area resize
    whose scale is not a whole number."""
    height, width = values.shape
    means = cv2.boxFilter(values, -1, (factor, factor), anchor=(0, 0))
    return np.ascontiguousarray(means[: height - height % factor : factor,
                                      : width - width % factor : factor])


def edge_width_map(gray: np.ndarray, factor: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(edge blur sigma in pixels, texture confidence in [0, 1]) per window.

    Gradients are taken at full analysis size; their local energies are smooth,
    so everything after that runs ``factor`` times smaller in each direction.
    """
    height, width = gray.shape
    window = max(7, (min(height, width) // 64) | 1)
    small_window = max(3, round(window / factor) | 1)
    energy = _block_means(_gradient_energy(gray), factor)
    reblurred = cv2.GaussianBlur(gray, (0, 0), SIGMA0)
    energy_reblurred = _block_means(_gradient_energy(reblurred), factor)
    energy = cv2.boxFilter(energy, -1, (small_window, small_window))
    energy_reblurred = cv2.boxFilter(energy_reblurred, -1, (small_window, small_window))

    ratio_sq = np.maximum(energy, 0.0) / np.maximum(energy_reblurred, 1e-12)
    width_px = SIGMA0 / np.sqrt(np.maximum(ratio_sq - 1.0, 1e-4))
    rms = np.sqrt(np.maximum(energy_reblurred, 0.0))
    confidence = np.clip((rms - TEXTURE_LOW) / (TEXTURE_HIGH - TEXTURE_LOW), 0.0, 1.0)
    return width_px.astype(np.float32), confidence.astype(np.float32)


def _spread(values: np.ndarray, weights: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Normalised convolution: weighted local mean and local weight.

    A blur this wide loses nothing when run at a quarter of the size.
    """
    height, width = values.shape
    factor = 4 if sigma >= 8 and min(height, width) >= 32 else 1
    small = (width // factor, height // factor)
    num = cv2.resize(values * weights, small, interpolation=cv2.INTER_AREA)
    den = cv2.resize(weights, small, interpolation=cv2.INTER_AREA)
    num = cv2.GaussianBlur(num, (0, 0), sigma / factor)
    den = cv2.GaussianBlur(den, (0, 0), sigma / factor)
    mean = cv2.resize(num / np.maximum(den, 1e-6), (width, height), interpolation=cv2.INTER_LINEAR)
    return mean, cv2.resize(den, (width, height), interpolation=cv2.INTER_LINEAR)


def _work_factor(shape: tuple[int, int]) -> int:
    """How much smaller the windowed steps run: 4 for analysis-size photos."""
    return int(np.clip(min(shape) // 128, 1, 4))


def compute_blur(gray: np.ndarray, scale: float = 1.0) -> MapResult:
    """Blur map for a luminance image; ``scale`` = analysis px per original px."""
    height, width = gray.shape
    factor = _work_factor(gray.shape)
    width_px, confidence = edge_width_map(gray, factor)
    raw = np.clip((width_px - SHARP_WIDTH) / (BLURRED_WIDTH - SHARP_WIDTH), 0.0, 1.0)

    sigma = max(height, width) / 20.0 / factor
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

    full_size = (width, height)
    blur = cv2.resize(blur, full_size, interpolation=cv2.INTER_LINEAR)
    confidence = cv2.resize(confidence, full_size, interpolation=cv2.INTER_LINEAR)
    return MapResult(
        "blur", OK, METHOD, MEANING, map=np.clip(blur, 0.0, 1.0), stats=stats,
        aux={"confidence": confidence}
    )
