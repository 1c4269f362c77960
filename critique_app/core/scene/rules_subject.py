"""The kinds that are about what is shown: portrait, still life, macro, street, landscape and
architecture. The classifier's labels weigh most; faces, focus and sky add to them."""

from __future__ import annotations

from critique_app.core.scene.evidence import Evidence
from critique_app.core.scene.groups import (
    ARCHITECTURE,
    LANDSCAPE,
    MACRO,
    PORTRAIT,
    STILL_LIFE,
    STREET,
    matching,
)
from critique_app.core.scene.reading import Reading, labels_cue

# A label group's weight is its summed probability plus LABEL_BASE (the classifier naming
# one of its classes at all says something), capped per kind: labels alone may carry a
# still life (an espresso cup at 90%) further than a landscape (terrain classes are few).
LABEL_BASE = 0.15
LABEL_CAP = {"portrait": 0.6, "still-life": 0.85, "macro": 0.7, "street": 0.7,
             "landscape": 0.75, "architecture": 0.8}
LABEL_MIN = 0.05  # summed probability under this is noise
FACE_PORTRAIT = 0.08  # a face this wide (share of the frame's width) makes a portrait
FACE_IN_SCENE = 0.03  # narrower faces are people in a scene (street)
TELE_35MM = 70  # 35 mm-equivalent focal length at or over this: a portrait lens
WIDE_35MM = 28  # at or under this: a wide view
# Deep focus: the background this sharp (0-1) and no sharper subject than this ratio
DEEP_BACKGROUND = 0.85
DEEP_RATIO = 1.1
# Shallow focus: the subject this much sharper than a background this soft
SHALLOW_RATIO = 1.1
SHALLOW_BACKGROUND = 0.8
DOMINANT_LABEL = 0.5  # a label this sure, of no place, names a subject, not a view
NOT_A_VIEW = 0.5  # ... and halves the landscape reading
FACE_NOT_A_VIEW = 0.4  # a face as big as a portrait's: the photo is of the person


def _labels(e: Evidence, r: Reading, group: frozenset[str]) -> float:
    found = matching(r.labels, group)
    total = sum(p for _, p in found)
    if total >= LABEL_MIN:
        e.add(min(LABEL_CAP[e.name], LABEL_BASE + total), "labels", labels_cue(found))
    return total


def _biggest_face(r: Reading) -> float:
    return max((width for width, _ in r.cues.faces), default=0.0)


def portrait(r: Reading) -> Evidence:
    e = Evidence("portrait")
    face = _biggest_face(r)
    if face >= FACE_PORTRAIT:
        e.add(0.45 + min(0.35, face), "measurements",
              f"a face {face:.0%} of the frame's width")
    _labels(e, r, PORTRAIT)
    if face >= FACE_PORTRAIT:
        focal = r.exif.focal_length_35mm or r.exif.focal_length_mm
        if focal and focal >= TELE_35MM:
            e.add(0.15, "exif", f"{focal:g} mm: a portrait focal length")
        if _shallow(r):
            e.add(0.15, "measurements", _shallow_text(r))
    return e


def still_life(r: Reading) -> Evidence:
    e = Evidence("still-life")
    _labels(e, r, STILL_LIFE)
    if e.cues and _biggest_face(r) >= FACE_PORTRAIT:
        e.counter(0.5, "measurements", "a face in the frame: a person, not arranged objects")
    return e


def macro(r: Reading) -> Evidence:
    e = Evidence("macro")
    _labels(e, r, MACRO)
    if e.cues and _shallow(r):
        e.add(0.25, "measurements", _shallow_text(r))
    return e


def street(r: Reading) -> Evidence:
    e = Evidence("street")
    _labels(e, r, STREET)
    small = [w for w, _ in r.cues.faces if FACE_IN_SCENE <= w < FACE_PORTRAIT]
    if e.cues and small:
        e.add(0.2, "measurements", f"{len(small)} small face{'s' * (len(small) > 1)}: "
              "people in the scene")
    return e


def landscape(r: Reading) -> Evidence:
    e = Evidence("landscape")
    _labels(e, r, LANDSCAPE)
    if r.daylight_sky:
        e.add(0.4, "measurements", r.sky_text("a bright, smooth sky"))
    if e.cues and _deep(r):  # deep focus alone is most photos; it supports other cues
        m = r.measurements
        e.add(0.25, "measurements", f"deep focus: the background as sharp as the subject "
              f"({m['sharpness.background']:.2f} and {m['sharpness.subject']:.2f})")
    if e.cues and r.measurements.get("horizon.reference") == "horizon":
        e.add(0.15, "measurements", "a long horizontal line: a horizon")
    focal = r.exif.focal_length_35mm
    if focal and focal <= WIDE_35MM:
        e.add(0.1, "exif", f"{focal:g} mm (35 mm equivalent): a wide view")
    top = r.top_label()
    if e.cues and top and top[1] >= DOMINANT_LABEL and top[0] not in LANDSCAPE | ARCHITECTURE:
        e.counter(NOT_A_VIEW, "labels", f"ImageNet names a subject: '{top[0]}' {top[1]:.0%}")
    if e.cues and _biggest_face(r) >= FACE_PORTRAIT:
        e.counter(FACE_NOT_A_VIEW, "measurements", "a face as big as a portrait's")
    return e


def architecture(r: Reading) -> Evidence:
    e = Evidence("architecture")
    _labels(e, r, ARCHITECTURE)
    m = r.measurements
    if e.cues and m.get("horizon.reference") == "verticals":
        e.add(0.2, "measurements", "strong vertical lines")
    focal = r.exif.focal_length_35mm
    if e.cues and focal and focal <= WIDE_35MM:
        e.add(0.1, "exif", f"{focal:g} mm (35 mm equivalent): a wide view")
    return e


def _deep(r: Reading) -> bool:
    m = r.measurements
    background, ratio = m.get("sharpness.background"), m.get("sharpness.subject_background_ratio")
    return (background is not None and ratio is not None and background >= DEEP_BACKGROUND
            and ratio <= DEEP_RATIO and m.get("sharpness.subject") is not None)


def _shallow(r: Reading) -> bool:
    m = r.measurements
    background, ratio = m.get("sharpness.background"), m.get("sharpness.subject_background_ratio")
    return (background is not None and ratio is not None and ratio >= SHALLOW_RATIO
            and background <= SHALLOW_BACKGROUND)


def _shallow_text(r: Reading) -> str:
    m = r.measurements
    return (f"shallow focus: the subject sharper than the background "
            f"({m['sharpness.subject']:.2f} against {m['sharpness.background']:.2f})")
