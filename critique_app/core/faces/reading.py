"""What a photo's faces are and how open their eyes look: the public reading."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from critique_app.core.faces import eyes as eye_model
from critique_app.core.faces import landmarks
from critique_app.core.faces.detection import detect_all
from critique_app.core.faces.haar import haar_faces
from critique_app.core.faces.litert import STORE_NAME, FaceModels, run, runtime_missing

MIN_EYE_PX = 12.0       # narrower than this at the input, an eye cannot be judged
MIN_PRESENCE = 0.5      # the face mesh's confidence that a face fills its crop: eyes judged
NOT_A_FACE = 0.1        # below this the mesh model sees no face at all: the detection is dropped
MIN_EYE_RATIO = 0.6     # the far eye of a turned head looks narrower than this x the near one
MAX_FACES = 20
HAAR_NOTE = ("face models not installed: OpenCV Haar cascades used (no eye openness); "
             f"run: critique models pull {STORE_NAME}")
OUTDATED_NOTE = ("the installed face models are from an older release (a model file is missing): "
                 "OpenCV Haar cascades used (no eye openness); "
                 f"run: critique models pull {STORE_NAME}")
NO_CASCADES_NOTE = ("face models not installed, and this OpenCV build has no Haar cascades: "
                    f"faces were not looked for; run: critique models pull {STORE_NAME}")


@dataclass(frozen=True)
class Eye:
    side: str                # "left" / "right": the subject's own
    openness: float | None   # eyelid gap / eye width (iris model); None when not measured
    visible: bool            # False: too small, turned or covered -- "can't tell"
    why: str = ""            # why it was not measured, in words; "" when measured


@dataclass(frozen=True)
class Face:
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in the input image's pixels
    confidence: float
    eyes: tuple[Eye, ...]
    yaw: float | None = None  # degrees, rough, from the face mesh; positive: nose to image right


@dataclass(frozen=True)
class FaceReading:
    method: str              # "mediapipe" or "haar" ("none" when neither can run)
    faces: tuple[Face, ...]
    note: str = ""


def read_faces(rgb: np.ndarray, models: FaceModels | None) -> FaceReading:
    """Faces and eyes in ``rgb`` (H x W x 3 uint8; float in [0, 1] is accepted too).

    Thread-safe: each thread runs its own interpreters. A face model that will not
    load raises one ModelError naming it.
    """
    rgb = _as_uint8_rgb(rgb)
    if models is None:
        return _read_with_haar(rgb, HAAR_NOTE)
    missing = runtime_missing()
    if missing:
        return _read_with_haar(rgb, f"{missing}: OpenCV Haar cascades used (no eye openness); "
                                    "run: pip install ai-edge-litert")
    if not models.complete():
        return _read_with_haar(rgb, OUTDATED_NOTE)
    nets = models.interpreters()
    faces = []
    for detection in detect_all(nets.full_range, nets.short_range, rgb, run)[:MAX_FACES]:
        mesh = landmarks.face_mesh(nets.landmarks, rgb, detection, run)
        if mesh.presence < NOT_A_FACE:
            continue
        yaw = landmarks.yaw(mesh.points) if mesh.presence >= MIN_PRESENCE else None
        faces.append(Face(_clip_box(detection.box, rgb.shape), detection.score,
                          _eyes(nets.iris, rgb, mesh), yaw))
    return FaceReading("mediapipe", tuple(faces))


def _eyes(iris, rgb: np.ndarray, mesh: landmarks.Mesh) -> tuple[Eye, ...]:
    """The subject's right eye (on the image's left) and left eye, measured or not."""
    if mesh.presence < MIN_PRESENCE:
        why = (f"the face is unclear to the landmark model (presence {mesh.presence:.2f}): "
               "covered, turned away or not a face")
        return Eye("right", None, False, why), Eye("left", None, False, why)
    corners = [mesh.points[list(landmarks.IMAGE_LEFT_EYE)],
               mesh.points[list(landmarks.IMAGE_RIGHT_EYE)]]
    widths = [float(np.hypot(*(c[1] - c[0]))) for c in corners]
    result = []
    for side, mirrored, pair, width in zip(("right", "left"), (False, True), corners, widths,
                                           strict=True):
        if width < MIN_EYE_RATIO * max(widths):
            result.append(Eye(side, None, False, "face turned: this eye is foreshortened "
                              f"({int(width)} px wide against {int(max(widths))} px)"))
        elif width < MIN_EYE_PX:
            result.append(Eye(side, None, False, f"eye {int(width)} px wide: too small to tell"))
        else:
            points = eye_model.eye_points(iris, rgb, pair, mirrored, run)
            result.append(Eye(side, eye_model.eye_openness(points.contour), True, ""))
    return tuple(result)


def _read_with_haar(rgb: np.ndarray, note: str) -> FaceReading:
    found = haar_faces(rgb)
    if found is None:
        return FaceReading("none", (), NO_CASCADES_NOTE)
    faces = []
    for box, confidence, eyes in found:
        faces.append(Face(box, confidence, tuple(
            Eye(side, None, seen, "eye found by a Haar cascade: openness not measured" if seen
                else "no eye found by the Haar cascade: closed, covered, turned or too small")
            for side, seen in eyes)))
    return FaceReading("haar", tuple(faces), note)


def _as_uint8_rgb(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[:, :, None], 3, axis=2)
    if rgb.ndim != 3 or rgb.shape[2] not in (3, 4):
        raise ValueError(f"read_faces needs an H x W x 3 image, not shape {rgb.shape}")
    rgb = rgb[:, :, :3]
    if rgb.dtype != np.uint8:
        rgb = (np.clip(rgb.astype(np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return np.ascontiguousarray(rgb)


def _clip_box(box: np.ndarray, shape: tuple) -> tuple[float, float, float, float]:
    h, w = shape[:2]
    x0, y0, x1, y1 = (float(v) for v in box)
    return (min(max(x0, 0.0), w), min(max(y0, 0.0), h), min(max(x1, 0.0), w),
            min(max(y1, 0.0), h))
