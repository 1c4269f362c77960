"""Tilt of the horizon, or of strong verticals.

Straight segments (OpenCV's Fast Line Detector: sub-pixel line fits on Canny
edges, about 5x faster than a probabilistic Hough transform and less fooled by
clusters of short edges) say where the long lines are. A long near-horizontal
family is trusted first, else near-verticals (central ones weighted more, as
perspective tilts those at the sides). The family's length-weighted median
angle is kept only if most of its lines agree with it, and the tilt is the
length-weighted mean angle of the lines that agree. Angles are folded modulo
90°, since a rotation of the scene turns horizontals and verticals alike.
Positive = the scene is rotated clockwise (right side lower, verticals lean right).
"""

from __future__ import annotations

import cv2
import numpy as np

WORK_SIDE = 640
MIN_SIDE = 32  # px at the work size; below this on either side no tilt is measured
MAX_TILT = 8.0  # degrees; beyond this a line is a diagonal or a deliberate Dutch angle
MIN_LINE_LENGTH = 0.1  # shortest segment counted, as a share of the frame width
CLUSTER = 1.5  # degrees around the peak that count as agreeing
MIN_HORIZON_SUPPORT = 0.5  # near-horizontal line length / frame width
MIN_VERTICAL_SUPPORT = 0.3  # near-vertical line length / frame height


def _fold(angle: np.ndarray) -> np.ndarray:
    """Line angles (degrees) folded into [-45, 45): horizontals and verticals agree."""
    return (angle + 45.0) % 90.0 - 45.0


def measure_horizon(luma: np.ndarray) -> dict:
    result = {"horizon.tilt_deg": None, "horizon.reference": None, "horizon.support": None}
    height, width = luma.shape
    scale = min(1.0, WORK_SIDE / max(height, width))
    if scale < 1:
        luma = cv2.resize(luma, (max(1, round(width * scale)), max(1, round(height * scale))),
                          interpolation=cv2.INTER_AREA)
    h, w = luma.shape
    if min(h, w) < MIN_SIDE:
        return result  # a sliver or a thumbnail has no lines to level
    gray = cv2.GaussianBlur((np.clip(luma, 0, 1) * 255).astype(np.uint8), (0, 0), 1.0)
    detector = cv2.ximgproc.createFastLineDetector(
        length_threshold=max(20, round(w * MIN_LINE_LENGTH)), do_merge=False)
    lines = detector.detect(gray)
    if lines is None:
        return result

    x1, y1, x2, y2 = lines.reshape(-1, 4).astype(np.float64).T
    lengths = np.hypot(x2 - x1, y2 - y1)
    seg_angle = np.degrees(np.arctan2(y2 - y1, x2 - x1))
    seg_tilt = _fold(seg_angle)
    small_tilt = np.abs(seg_tilt) <= MAX_TILT
    horizontal = small_tilt & (np.abs(((seg_angle + 90) % 180) - 90) < 45)
    vertical = small_tilt & ~horizontal

    # A horizon is trusted first; verticals lean with perspective away from the
    # frame's centre line, so central ones count more.
    if lengths[horizontal].sum() / w >= MIN_HORIZON_SUPPORT:
        family, weights, reference, extent = horizontal, lengths, "horizon", w
    elif lengths[vertical].sum() / h >= MIN_VERTICAL_SUPPORT:
        centrality = 1.0 - np.clip(np.abs((x1 + x2) / (2 * w) - 0.5) * 1.5, 0.0, 0.9)
        family, weights, reference, extent = vertical, lengths * centrality, "verticals", h
    else:
        return result
    rough = _weighted_median(seg_tilt[family], weights[family])
    chosen = family & (np.abs(seg_tilt - rough) <= CLUSTER + 1.0)
    # The lines must agree with each other, not merely be near-level: eaves, roofs and
    # branches at assorted small angles are not a horizon.
    if lengths[chosen].sum() < 0.6 * lengths[family].sum():
        return result
    agreeing = family & (np.abs(seg_tilt - rough) <= CLUSTER)
    tilt = float(np.average(seg_tilt[agreeing], weights=weights[agreeing]))  # holds rough's line
    result.update({
        "horizon.tilt_deg": round(tilt, 2) + 0.0,
        "horizon.reference": reference,
        "horizon.support": round(float(lengths[agreeing].sum() / extent), 2),
    })
    return result


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])

