"""Eyes: MediaPipe's iris model on each eye, and how open the eyelids are.

The eye crop follows MediaPipe's iris graph: a square on the two eye corners of the
face mesh, 2.3x their span, turned level, 64x64, values in [0, 1]. The model knows
only eyes on the image's left (the subject's right), so the other eye goes in
mirrored and its points come back mirrored. Of its 71 eye-contour points the first
16 are the eyelids: 9 along the lower lid from the outer corner to the inner one,
then 7 along the upper lid in the same direction, without the corners. The face
mesh's own eyelid points do not close when eyes do (MediaPipe issues #965, #1538),
so openness comes from these.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from critique_app.core.faces.crop import aligned_roi

SIZE = 64
ENLARGE = 2.3
LOWER = slice(0, 9)   # lower lid, corner to corner
UPPER = slice(9, 16)  # upper lid, above lower points 1..7


@dataclass(frozen=True)
class EyePoints:
    contour: np.ndarray  # 71 x 2, image pixels
    iris: np.ndarray     # 5 x 2, image pixels (centre first)
    width: float         # corner to corner, image pixels


def eye_points(interpreter, rgb: np.ndarray, corners: np.ndarray, mirrored: bool,
               run) -> EyePoints:
    """The iris model's points for the eye between ``corners`` (2 x 2, image pixels,
    left to right in the image); ``mirrored`` for the eye on the image's right."""
    low, high = corners.min(0), corners.max(0)
    side = float(max(high - low)) * ENLARGE
    roi = aligned_roi(corners[0], corners[1], (low + high) / 2, max(side, 1.0))
    crop = roi.cut(rgb, SIZE).astype(np.float32) / 255.0
    if mirrored:
        crop = crop[:, ::-1].copy()
    contour, iris = run(interpreter, crop)
    contour, iris = contour.reshape(-1, 3)[:, :2].copy(), iris.reshape(-1, 3)[:, :2].copy()
    if mirrored:
        contour[:, 0] = SIZE - contour[:, 0]
        iris[:, 0] = SIZE - iris[:, 0]
    contour, iris = roi.to_image(contour, SIZE), roi.to_image(iris, SIZE)
    return EyePoints(contour, iris, float(np.hypot(*(corners[1] - corners[0]))))


def eye_openness(contour: np.ndarray) -> float:
    """Eyelid gap over eye width, from the iris model's eye contour (its first 16 points).

    The gap is the mean distance between the seven upper-lid points and the lower-lid
    points below them, measured across the line joining the corners; the width is that
    line's length. About 0.25-0.35 for an open eye, near 0 for a closed one.
    """
    points = np.asarray(contour, np.float64)[:16, :2]
    lower, upper = points[LOWER], points[UPPER]
    axis = lower[-1] - lower[0]
    width = float(np.hypot(*axis))
    if width <= 0:
        return 0.0
    normal = np.array([-axis[1], axis[0]]) / width
    gaps = np.abs((upper - lower[1:8]) @ normal)
    return float(gaps.mean() / width)
