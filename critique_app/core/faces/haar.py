"""OpenCV's Haar cascades: faces and eyes when the MediaPipe models are not installed.

A cascade finds frontal faces and open-looking eyes but measures nothing about the
eyelids, so every eye's openness is None: an eye is "visible" only when the eye
cascade found it. CascadeClassifier is not thread-safe: one pair per thread.

Speed and strictness, measured on the packaged photos at 720 px (astronaut, grace_hopper;
coffee, rocket, chelsea, china, flower, each whole, shifted, shaken, defocused, 2 EV
darker and cropped to halves, thirds and its centre): on the 720 px grey image with
scaleFactor 1.1 a detection took 140-280 ms and the flower's crops showed a face at
minNeighbors 5. Faces are looked for on the image shrunk to DETECT_SIDE (the cascade's
24 px window is then 7.5% of the long side: 54 px at 720; DETECT_AREA caps square
photos) in steps of 1.2: 18-45 ms where the old way took 90-420 ms on the same loaded
2-core box (~10 ms on a free core). No-face images reach at most 5 merged neighbours
there, the real faces 7 or more: MIN_NEIGHBOURS 8 (faces under ~60 px at 720 and
half-cut faces are missed).
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

FACE_CASCADE = "haarcascade_frontalface_default.xml"
EYE_CASCADE = "haarcascade_eye.xml"
DETECT_SIDE = 320  # px, long side of the grey image faces are looked for in
DETECT_AREA = 320 * 214  # px, and its area at most (a square photo is shrunk to 262 px)
SCALE_STEP = 1.2
MIN_NEIGHBOURS = 8
EYE_FACE_WIDTH = 160  # px: a face wider than this is shrunk to it for the eye search
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


def haar_faces(rgb: np.ndarray, *, eyes: bool = True
               ) -> list[tuple[tuple[float, float, float, float], float,
                               list[tuple[str, bool]]]] | None:
    """(box, rough confidence, [(side, eye found)]) per face; None without cascades.
    ``eyes=False``: the eye search is skipped (its list is empty), for callers that want the
    faces only.

    The confidence grows with the number of overlapping detections the cascade merged
    (1 - exp(-n / 10)): a rough figure, not a probability.
    """
    cascades = _cascades()
    if cascades is None:
        return None
    face_cascade, eye_cascade = cascades
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    scale = min(1.0, DETECT_SIDE / max(grey.shape),  # small image px per input px
                (DETECT_AREA / (grey.shape[0] * grey.shape[1])) ** 0.5)
    small = grey if scale >= 1.0 else cv2.resize(
        grey, (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale))),
        interpolation=cv2.INTER_AREA)
    boxes, neighbours = face_cascade.detectMultiScale2(
        cv2.equalizeHist(small), scaleFactor=SCALE_STEP, minNeighbors=MIN_NEIGHBOURS,
        minSize=(24, 24))
    faces = []
    for (x, y, w, h), n in zip(np.asarray(boxes).reshape(-1, 4) / scale, np.ravel(neighbours),
                               strict=True):
        faces.append(((float(x), float(y), float(x + w), float(y + h)),
                      float(1.0 - np.exp(-float(n) / 10.0)),
                      _eyes(eye_cascade, grey, x, y, w, h) if eyes else []))
    return faces


def _eyes(eye_cascade, grey: np.ndarray, x: float, y: float, w: float, h: float
          ) -> list[tuple[str, bool]]:
    """Which eyes the eye cascade finds in the upper half of one face, at most
    EYE_FACE_WIDTH px wide (searched only there: cheap)."""
    left, top = max(0, int(x)), max(0, int(y))
    upper = grey[top:int(y + h * 11 / 20), left:int(x + w)]
    if upper.size == 0:
        return [("right", False), ("left", False)]
    shrink = min(1.0, EYE_FACE_WIDTH / upper.shape[1])
    if shrink < 1.0:
        upper = cv2.resize(upper, (EYE_FACE_WIDTH, max(1, round(upper.shape[0] * shrink))),
                           interpolation=cv2.INTER_AREA)
    width = upper.shape[1]
    # not equalised: on grace_hopper that loses the eye the raw crop shows
    eyes = eye_cascade.detectMultiScale(upper, scaleFactor=1.1,
                                        minNeighbors=5, minSize=(max(4, width // 10),) * 2,
                                        maxSize=(width // 2, width // 2))
    centres = [ex + ew / 2 for ex, ey, ew, eh in np.asarray(eyes).reshape(-1, 4)]
    # The eye on the image's left is the subject's right.
    return [("right", any(c < width / 2 for c in centres)),
            ("left", any(c >= width / 2 for c in centres))]
