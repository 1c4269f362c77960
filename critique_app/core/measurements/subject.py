"""The subject as saliency sees it: where it is, how big, how it sits on the thirds."""

from __future__ import annotations

import cv2
import numpy as np

THIRDS = {"upper-left": (1 / 3, 1 / 3), "upper-right": (2 / 3, 1 / 3),
          "lower-left": (1 / 3, 2 / 3), "lower-right": (2 / 3, 2 / 3)}
SUBJECT_LEVEL = 0.5  # saliency (0-1) above which a pixel belongs to the subject region


def _quarter_size(saliency: np.ndarray) -> np.ndarray:
    """Saliency maps are smooth: the centroid and box need no more than a quarter
    of the size to be right to a few pixels."""
    height, width = saliency.shape
    return cv2.resize(saliency, (max(1, width // 4), max(1, height // 4)),
                      interpolation=cv2.INTER_AREA)


def _largest_salient_region(saliency: np.ndarray) -> np.ndarray:
    above = (saliency >= SUBJECT_LEVEL).astype(np.uint8)
    count, labels = cv2.connectedComponents(above, connectivity=8)
    if count <= 1:
        return saliency >= saliency.max() * 0.9
    mass = np.bincount(labels.ravel(), weights=saliency.ravel(), minlength=count)
    mass[0] = 0.0
    return labels == int(np.argmax(mass))


def measure_subject(saliency: np.ndarray) -> dict:
    saliency = _quarter_size(saliency)
    height, width = saliency.shape
    weights = saliency.astype(np.float64) ** 2  # emphasise the peaks
    total = float(weights.sum())
    if total <= 0:
        return {}
    ys, xs = np.mgrid[0:height, 0:width]
    cx = float((weights * xs).sum() / total + 0.5) / width
    cy = float((weights * ys).sum() / total + 0.5) / height

    rows, cols = np.nonzero(_largest_salient_region(saliency))
    box = [cols.min() / width, rows.min() / height, (cols.max() + 1) / width,
           (rows.max() + 1) / height]
    fill = (box[2] - box[0]) * (box[3] - box[1])
    name, point = min(THIRDS.items(), key=lambda kv: np.hypot(cx - kv[1][0], cy - kv[1][1]))
    return {
        "subject.centroid_x": round(cx, 3),
        "subject.centroid_y": round(cy, 3),
        "subject.box": [round(float(v), 3) for v in box],
        "subject.frame_fill_pct": round(float(fill) * 100.0, 1),
        "subject.thirds_distance": round(float(np.hypot(cx - point[0], cy - point[1])), 3),
        "subject.nearest_thirds_point": name,
        "subject.centre_distance": round(float(np.hypot(cx - 0.5, cy - 0.5)), 3),
    }
