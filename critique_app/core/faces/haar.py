"""OpenCV's Haar cascades: faces and eyes when the MediaPipe models are not installed.

A cascade finds frontal faces and open-looking eyes but measures nothing about the
eyelids, so every eye's openness is None: an eye is "visible" only when the eye
cascade found it. CascadeClassifier is not thread-safe: one pair per thread.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

FACE_CASCADE = "haarcascade_frontalface_default.xml"
EYE_CASCADE = "haarcascade_eye.xml"
_local = threading.local()


def cascade_folder() -> Path | None:
    """Where this OpenCV keeps its cascades; None when its wheel ships none."""
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if not folder or not (Path(folder) / FACE_CASCADE).is_file():
        return None
    return Path(folder)


def _cascades() -> tuple[cv2.CascadeClassifier, cv2.CascadeClassifier] | None:
    found = getattr(_local, "cascades", None)
    if found is None:
        folder = cascade_folder()
        if folder is None:
            return None
        found = (cv2.CascadeClassifier(str(folder / FACE_CASCADE)),
                 cv2.CascadeClassifier(str(folder / EYE_CASCADE)))
        _local.cascades = found
    return found


def haar_faces(rgb: np.ndarray) -> list[tuple[tuple[float, float, float, float], float,
                                              list[tuple[str, bool]]]] | None:
    """(box, rough confidence, [(side, eye found)]) per face; None without cascades.

    The confidence grows with the number of overlapping detections the cascade merged
    (1 - exp(-n / 10)): a rough figure, not a probability.
    """
    cascades = _cascades()
    if cascades is None:
        return None
    face_cascade, eye_cascade = cascades
    grey = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    smallest = max(20, min(grey.shape) // 20)
    boxes, neighbours = face_cascade.detectMultiScale2(grey, scaleFactor=1.1, minNeighbors=5,
                                                       minSize=(smallest, smallest))
    faces = []
    for (x, y, w, h), n in zip(np.asarray(boxes).reshape(-1, 4), np.ravel(neighbours),
                               strict=True):
        upper = grey[y:y + h * 11 // 20, x:x + w]
        eyes = eye_cascade.detectMultiScale(upper, scaleFactor=1.1, minNeighbors=5,
                                            minSize=(max(4, w // 10),) * 2,
                                            maxSize=(w // 2, w // 2))
        centres = [ex + ew / 2 for ex, ey, ew, eh in np.asarray(eyes).reshape(-1, 4)]
        # The eye on the image's left is the subject's right.
        found = {"right": any(c < w / 2 for c in centres),
                 "left": any(c >= w / 2 for c in centres)}
        faces.append(((float(x), float(y), float(x + w), float(y + h)),
                      float(1.0 - np.exp(-float(n) / 10.0)),
                      [("right", found["right"]), ("left", found["left"])]))
    return faces
