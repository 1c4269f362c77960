"""MediaPipe's 468-point face mesh, on a crop turned so the eyes are level.

As in MediaPipe's face_landmark graph: the detection's box, squared on its long side
and enlarged 1.5x, turned by the line from one eye keypoint to the other; the 192x192
crop goes in with values in [0, 1]. The second output is a face-presence logit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from critique_app.core.faces.crop import aligned_roi
from critique_app.core.faces.detection import Detection

SIZE = 192
ENLARGE = 1.5
# Face-mesh indices: the eye corners MediaPipe's iris graph starts from (outer, inner),
# for the eye on the image's left (the subject's right) and on the image's right.
IMAGE_LEFT_EYE = (33, 133)
IMAGE_RIGHT_EYE = (362, 263)
NOSE_TIP = 1
CHEEKS = (234, 454)  # the face's edges at eye height, image left and right


@dataclass(frozen=True)
class Mesh:
    points: np.ndarray  # 468 x 2, image pixels
    presence: float     # 0-1: how sure the model is that a face fills the crop


def face_mesh(interpreter, rgb: np.ndarray, detection: Detection, run) -> Mesh:
    x0, y0, x1, y1 = detection.box
    side = max(x1 - x0, y1 - y0) * ENLARGE
    roi = aligned_roi(detection.keypoints[0], detection.keypoints[1],
                      np.array([(x0 + x1) / 2, (y0 + y1) / 2]), side)
    crop = roi.cut(rgb, SIZE).astype(np.float32) / 255.0
    points, presence = run(interpreter, crop)
    points = points.reshape(-1, 3)
    logit = float(np.clip(presence.reshape(-1)[0], -60, 60))
    return Mesh(roi.to_image(points, SIZE), 1.0 / (1.0 + np.exp(-logit)))


def yaw(points: np.ndarray) -> float | None:
    """A rough turn of the head in degrees from where the nose tip sits between the face's
    edges (0: facing the camera; positive: the nose towards the image's right)."""
    left, right, nose = points[CHEEKS[0]], points[CHEEKS[1]], points[NOSE_TIP]
    axis = right - left
    width = float(np.hypot(*axis))
    if width < 1e-6:
        return None
    along = float(np.dot(nose - left, axis)) / width / width  # 0 at the left edge, 1 at right
    return float(np.degrees(np.arcsin(np.clip(2.0 * along - 1.0, -1.0, 1.0))))
