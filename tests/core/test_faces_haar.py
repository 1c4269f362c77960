"""OpenCV's Haar cascades (the fallback without the face models): fast and strict."""

from __future__ import annotations

import time

import cv2
import matplotlib.cbook
import numpy as np
import pytest
from PIL import Image

from critique_app.core.faces.haar import cascade_folder, haar_faces
from tests.helpers.bursts import photo, shaken, shifted

pytestmark = pytest.mark.skipif(cascade_folder() is None, reason="this OpenCV ships no cascades")


def _photo(name: str) -> np.ndarray:
    if name == "grace_hopper":
        with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")) as image:
            return np.asarray(image.convert("RGB"))
    return photo(name)


def _at_720(rgb: np.ndarray) -> np.ndarray:
    """As culling sees it: the long side at 720 px."""
    h, w = rgb.shape[:2]
    scale = 720 / max(h, w)
    return cv2.resize(rgb, (round(w * scale), round(h * scale)),
                      interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def _timed(rgb: np.ndarray) -> tuple[list, float]:
    start = time.perf_counter()
    faces = haar_faces(rgb)
    return faces, 1000 * (time.perf_counter() - start)


def test_one_face_on_the_portraits_with_an_eye_found():
    haar_faces(_photo("coffee"))  # the cascades load once per thread
    print()
    for name, centre in (("astronaut", (225, 115)), ("grace_hopper", (265, 220))):
        rgb = _photo(name)
        for label, image, scale in (("as shipped", rgb, 1.0),
                                    ("at 720 px", _at_720(rgb), 720 / max(rgb.shape[:2]))):
            faces, ms = _timed(image)
            print(f"{name:12s} {label:10s} {image.shape[1]}x{image.shape[0]}: "
                  f"{len(faces)} face(s) in {ms:.1f} ms")
            [(box, confidence, eyes)] = faces
            x0, y0, x1, y1 = (v / scale for v in box)
            assert abs((x0 + x1) / 2 - centre[0]) < 25 and abs((y0 + y1) / 2 - centre[1]) < 25
            assert 0 < confidence < 1 and any(found for _, found in eyes)


@pytest.mark.parametrize("name", ["coffee", "rocket", "chelsea", "china", "flower"])
def test_no_face_where_there_is_none_even_cropped_or_shaken(name):
    rgb = _photo(name)
    h, w = rgb.shape[:2]
    variants = {"whole": rgb, "shifted": shifted(rgb, 3, -2), "shaken": shaken(rgb, 15, 30),
                "left 60%": rgb[:, :w * 6 // 10], "right 60%": rgb[:, w * 4 // 10:],
                "centre": rgb[h // 5:h * 4 // 5, w // 5:w * 4 // 5],
                "top 60%": rgb[:h * 6 // 10], "middle half": rgb[:, w // 4:w * 3 // 4]}
    print()
    for label, image in variants.items():
        faces, ms = _timed(_at_720(np.ascontiguousarray(image)))
        print(f"{name:8s} {label:12s}: {len(faces)} face(s) in {ms:.1f} ms")
        assert faces == [], (name, label, faces)


def test_faces_only_skips_the_eye_search_and_finds_the_same_faces():
    rgb = _at_720(_photo("astronaut"))
    with_eyes, faces_only = haar_faces(rgb), haar_faces(rgb, eyes=False)
    assert [(box, confidence) for box, confidence, _ in with_eyes] == \
        [(box, confidence) for box, confidence, _ in faces_only]
    assert any(found for _, found in with_eyes[0][2]) and faces_only[0][2] == []
