"""One frame's facts for culling, from the analysis-size photo scoring decodes anyway.

Everything here is cheap (a few ms on the 720 px image) except a face's sharpness: a face
20-100 px wide in the analysis image says little about focus, so the photo is decoded again
at the JPEG draft scale where the face is ~160 px wide (never above native) and the face is
measured there. Only photos with faces pay for that second decode.

Sharpness is the mean squared spatial frequency of the detail: Laplacian energy over
gradient energy (see :func:`sharpness`). It does not depend on contrast or brightness, so
frames of one burst compare fairly, and blur of any kind or direction divides it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

from critique_app.core.culling.face_decode import decode_for_faces
from critique_app.core.measurements.exposure import measure_exposure
from critique_app.core.photo import Photo

FACTS_VERSION = "frame-facts-3"  # 2: colour moments keep 4 significant digits;
#                                   3: sharpness is Laplacian / gradient energy
FACE_SHARPNESS_PX = 160  # face width at which its sharpness is measured
FACE_MARGIN = 0.15  # of the face width, around the box, in the measured crop
_PRE_SMOOTH = 0.5  # px sigma: tames pixel noise before the Laplacian
_FLAT = 16.0  # mean squared gradient (grey levels/px) under which a patch is flat
_MIN_SIDE = 12  # px: a smaller patch has no sharpness to tell
_THUMB = 16


@dataclass(frozen=True)
class FaceSetup:
    """Which face reader culling uses: ``read`` (rgb uint8 -> FaceReading) and how it is named
    in the cache version; ``read`` is None when the faces package is not available."""

    read: object | None
    models: object | None
    version: str


def frame_facts(photo: Photo, path: str | Path, *, face_models=None,
                face_setup: FaceSetup | None = None, measured: dict | None = None) -> dict:
    """The facts dict of one decoded photo (see the culling spec), JSON-serialisable.

    ``face_models`` is a :class:`critique_app.core.faces.FaceModels` or None (OpenCV's Haar
    cascades are used then); ``face_setup`` overrides both (the runner's prepared one).
    ``measured``: scoring's measurement columns of this photo, when it was just scored
    (the exposure columns are the same numbers measured on the same pixels: not redone).
    """
    setup = face_setup or face_setup_for(face_models)
    exif = photo.exif
    rgb8 = photo.to_uint8()
    grey = cv2.cvtColor(rgb8, cv2.COLOR_RGB2GRAY)
    exposure = _exposure(photo, measured)
    facts = {
        "exif_time": exif_time(exif),
        "file_time": _file_time(path),
        "camera": camera_name(exif),
        "exposure_bias_ev": exif.exposure_bias_ev,
        "shutter_s": exif.shutter_s,
        "aperture_f": exif.aperture_f,
        "iso": exif.iso,
        "focal_length_mm": exif.focal_length_mm,
        "width": int(photo.original_size[0]),
        "height": int(photo.original_size[1]),
        "phash": phash(grey),
        "colour": colour_moments(rgb8),
        "thumb": thumb(grey),
        "embedding": None,
        "exposure": exposure,
        "sharpness": frame_sharpness(grey),
        "faces": faces_facts(photo, rgb8, Path(path), setup, grey),
        "score": None,
    }
    return facts


def _exposure(photo: Photo, measured: dict | None) -> dict:
    if measured and measured.get("exposure_ev") is not None:
        return {"ev": measured["exposure_ev"], "highlights_pct": measured["highlights_clipped_pct"],
                "shadows_pct": measured["shadows_clipped_pct"]}
    values = measure_exposure(photo.pixels, photo.luminance())
    return {"ev": values["exposure.ev_vs_middle_grey"],
            "highlights_pct": values["exposure.highlights_clipped_pct"],
            "shadows_pct": values["exposure.shadows_clipped_pct"]}


# -- time and camera ----------------------------------------------------------------------

def exif_time(exif) -> float | None:
    """DateTimeOriginal (+ sub-seconds) as seconds since 1970 of the camera's own clock
    (naive: no zone applied; frames of one camera compare exactly)."""
    if not exif.taken_at:
        return None
    try:
        moment = datetime.fromisoformat(exif.taken_at)
    except ValueError:
        return None
    seconds = (moment - datetime(1970, 1, 1)).total_seconds()
    return round(seconds + (exif.taken_subsec or 0.0), 3)


def camera_name(exif) -> str | None:
    """Make and model, with the body serial when written: a burst never spans two bodies."""
    if exif.camera and exif.serial:
        return f"{exif.camera} #{exif.serial}"
    return exif.camera or (f"#{exif.serial}" if exif.serial else None)


def _file_time(path: str | Path) -> float:
    try:
        return round(os.stat(path).st_mtime, 3)
    except OSError:
        return 0.0


# -- similarity -----------------------------------------------------------------------------

def phash(grey: np.ndarray) -> str:
    """OpenCV's 64-bit DCT perceptual hash, 16 hex characters."""
    return bytes(cv2.img_hash.pHash(grey).ravel()).hex()


def phash_distance(a: str, b: str) -> int:
    """Hamming distance of two :func:`phash` values (0-64)."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def colour_moments(rgb8: np.ndarray) -> list[float]:
    """OpenCV's colour moment hash (42 floats): robust to small shifts and crops.

    The moments span 1e-3 to 1e-28: four significant digits, not four decimals (which
    left 6 of the 42 non-zero and the colour cue without a vote)."""
    values = cv2.img_hash.colorMomentHash(cv2.cvtColor(rgb8, cv2.COLOR_RGB2BGR)).ravel()
    return [float(f"{float(v):.4g}") for v in values]


def thumb(grey: np.ndarray) -> list[float]:
    """16x16 grey, zero mean, unit norm: the dot product of two is their correlation."""
    small = cv2.resize(grey, (_THUMB, _THUMB), interpolation=cv2.INTER_AREA).astype(np.float64)
    small -= small.mean()
    norm = float(np.linalg.norm(small))
    if norm > 1e-9:
        small /= norm
    return [round(float(v), 4) for v in small.ravel()]


# -- sharpness ------------------------------------------------------------------------------

def _energies(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel: squared Laplacian and squared gradient (Sobel / 4, both axes) of the grey
    image smoothed by a 0.5 px gaussian (pixel noise would otherwise read as detail)."""
    image = cv2.GaussianBlur(grey.astype(np.float32), (0, 0), _PRE_SMOOTH)
    lap = cv2.Laplacian(image, cv2.CV_32F, ksize=1)
    gx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3, scale=0.25)
    gy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3, scale=0.25)
    lap *= lap  # in place: no new 720 px arrays
    gx *= gx
    gy *= gy
    gx += gy
    return lap, gx


def _ratio(energies: tuple[np.ndarray, np.ndarray], rows: slice, cols: slice) -> float | None:
    lap, grad = energies[0][rows, cols], energies[1][rows, cols]
    if grad.size == 0:
        return None
    whole = cv2.sumElems(grad)[0]  # (OpenCV sums in doubles, 3x numpy's speed)
    if whole < _FLAT * grad.size:  # rms gradient under 4 grey levels a pixel: flat
        return None
    return round(cv2.sumElems(lap)[0] / whole, 4)


def sharpness(grey: np.ndarray) -> float | None:
    """Laplacian energy over gradient energy of a grey uint8 patch: the mean squared
    spatial frequency of its detail (rad^2/px^2), the same for any contrast or brightness.
    Blur divides it whatever its direction: on the packaged photos (noise and JPEG as a
    camera's) a shake of 7-21 px leaves 0.06-0.49 of the sharp frame's value per 3x3-cell
    comparison, a defocus of sigma 1.5-4 0.05-0.20, a twin 0.96-1.0 (the old blur effect:
    up to 1.15 and 0.87). Crisp photos measure ~0.8-3 in their sharpest cell; None on a
    patch with no texture to tell by."""
    if min(grey.shape) < _MIN_SIDE:
        return None
    inner = slice(2, -2)
    return _ratio(_energies(grey), inner, inner)


def frame_sharpness(grey: np.ndarray) -> dict:
    """Global, per cell of a 3x3 grid (row by row), and the subject's: the sharpest cell
    (what is in focus somewhere; a shallow depth of field is not punished)."""
    height, width = grey.shape
    energies = _energies(grey)
    rows = [slice(max(2, k * height // 3), min(height - 2, (k + 1) * height // 3))
            for k in range(3)]
    cols = [slice(max(2, k * width // 3), min(width - 2, (k + 1) * width // 3)) for k in range(3)]
    grid = [_ratio(energies, r, c) for r in rows for c in cols]
    overall = _ratio(energies, slice(2, -2), slice(2, -2))
    measured = [v for v in grid if v is not None]
    return {"global": overall, "subject": max(measured) if measured else overall, "grid": grid}


# -- faces ----------------------------------------------------------------------------------

def face_setup_for(models) -> FaceSetup:
    """The face reader of the faces package (helper FACES' API), named for the cache."""
    try:
        from critique_app.core.faces import read_faces
    except ImportError:
        return FaceSetup(None, None, "faces-none")
    if models is None:
        return FaceSetup(read_faces, None, "faces-haar-2")  # 2: faster, stricter cascades
    tag = getattr(models, "version", None) or _models_tag(models)
    return FaceSetup(read_faces, models, f"faces-mediapipe-{tag}")


def _models_tag(models) -> str:
    """The sizes of the models' files: another release of the models misses the cache (the
    store checks each file's hash against the manifest, so the sizes name the release)."""
    folder = getattr(models, "folder", None)
    files = sorted(Path(folder).glob("*.tflite")) if folder else []
    return ".".join(str(f.stat().st_size) for f in files) or "1"


def faces_facts(photo: Photo, rgb8: np.ndarray, path: Path, setup: FaceSetup,
                grey: np.ndarray | None = None) -> dict:
    if setup.read is None:
        return {"method": "none", "note": "face reading is not available in this build",
                "faces": []}
    reading = setup.read(rgb8, setup.models)
    width, height = photo.size
    faces = [face for face in reading.faces if face.box[2] > face.box[0]]
    if faces and grey is None:
        grey = cv2.cvtColor(rgb8, cv2.COLOR_RGB2GRAY)
    crops = face_sharpness(photo, path, [face.box for face in faces], grey_analysis=grey)
    out = []
    for face, (value, pixels) in zip(faces, crops, strict=True):
        x0, y0, x1, y1 = face.box
        out.append({
            "box": [round(max(0.0, x0 / width), 4), round(max(0.0, y0 / height), 4),
                    round(min(1.0, x1 / width), 4), round(min(1.0, y1 / height), 4)],
            "confidence": round(float(face.confidence), 3),
            "sharpness": value, "sharpness_px": pixels,
            "yaw": None if getattr(face, "yaw", None) is None else round(float(face.yaw), 1),
            "eyes": [{"side": eye.side,
                      "openness": None if eye.openness is None else round(float(eye.openness), 3),
                      "visible": bool(eye.visible), "why": eye.why} for eye in face.eyes],
        })
    return {"method": reading.method, "note": reading.note, "faces": out}


def face_sharpness(photo: Photo, path: Path, boxes: list, grey_analysis: np.ndarray | None
                ) -> list[tuple[float | None, int]]:
    """Each face's (sharpness, face width in px where measured), all from one decode at the
    scale the narrowest face needs (the analysis image when it is big enough already)."""
    if not boxes:
        return []
    narrowest = min(x1 - x0 for x0, _, x1, _ in boxes)
    grey, scale = grey_analysis, 1.0  # measured image pixels per analysis pixel
    if narrowest < FACE_SHARPNESS_PX and photo.scale < 1.0:
        width, height = photo.size
        margin = [(x0 - FACE_MARGIN * (x1 - x0), y0 - FACE_MARGIN * (x1 - x0),
                   x1 + FACE_MARGIN * (x1 - x0), y1 + FACE_MARGIN * (x1 - x0))
                  for x0, y0, x1, y1 in boxes]
        decoded = decode_for_faces(path, photo.scale * FACE_SHARPNESS_PX / max(narrowest, 1.0),
                                   [(a / width, b / height, c / width, d / height)
                                    for a, b, c, d in margin])
        if decoded is not None and decoded.shape[1] > grey.shape[1]:
            grey, scale = decoded, decoded.shape[1] / width
    results = []
    for x0, y0, x1, y1 in boxes:
        margin = FACE_MARGIN * (x1 - x0)
        left, top = max(0, int((x0 - margin) * scale)), max(0, int((y0 - margin) * scale))
        right = min(grey.shape[1], math.ceil((x1 + margin) * scale))
        bottom = min(grey.shape[0], math.ceil((y1 + margin) * scale))
        crop = grey[top:bottom, left:right]
        results.append((sharpness(crop) if crop.size else None, round((x1 - x0) * scale)))
    return results
