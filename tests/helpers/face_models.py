"""MediaPipe's face models for tests, pulled offline through the real model store.

The wheel comes from ``.cache/test-wheels`` (``scripts/fetch_test_wheels.py`` puts it
there); pip sees only that folder. Without it, tests skip with the command to run, or
fail when ``CI=true``: CI must run the real models.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from critique_app.core.faces import STORE_NAME, FaceModels
from critique_app.core.store.manifest import load_manifest
from critique_app.core.store.store import ModelStore

REPO_ROOT = Path(__file__).resolve().parents[2]
WHEELS = REPO_ROOT / ".cache" / "test-wheels"
FETCH = ".venv/bin/python scripts/fetch_test_wheels.py"


def _wheel_present() -> bool:
    source = load_manifest()[STORE_NAME].source
    prefix = f"{source.package}-{source.version}-"
    return any(p.name.startswith(prefix) for p in WHEELS.glob("*.whl"))


def pull_face_models(root: Path) -> FaceModels:
    """``mediapipe-face`` installed into the store at ``root`` from the local wheel folder
    (under a second). Use it from a session fixture::

        @pytest.fixture(scope="session")
        def face_models(tmp_path_factory):
            return pull_face_models(tmp_path_factory.mktemp("face-store"))
    """
    if not _wheel_present():
        why = f"the mediapipe wheel is not in {WHEELS}; run: {FETCH}"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    store = ModelStore(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIP_CONFIG_FILE", os.devnull)
        patch.setenv("PIP_NO_INDEX", "1")
        patch.setenv("PIP_FIND_LINKS", str(WHEELS))
        store.pull(STORE_NAME, report=lambda _: None, show_progress=False)
    return FaceModels(store.require(STORE_NAME))


def grace_hopper():
    """matplotlib's grace_hopper.jpg (US Navy photo, public domain) as uint8 RGB."""
    import importlib.util

    import numpy as np
    from PIL import Image

    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.origin:
        pytest.skip("matplotlib (a dev dependency) is not installed: no grace_hopper.jpg")
    path = Path(spec.origin).parent / "mpl-data" / "sample_data" / "grace_hopper.jpg"
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def eyes_painted_shut(rgb, models: FaceModels):
    """``rgb`` with each eye of its first face painted shut: the opening between the lids
    (from the iris model) filled from the skin around it, a lash line where the lids meet.
    Not a real blink (no packaged photo has one): the closest this repository can make."""
    import cv2
    import numpy as np

    from critique_app.core.faces import eyes, landmarks
    from critique_app.core.faces.detection import detect_all
    from critique_app.core.faces.litert import run

    nets = models.interpreters()
    face = detect_all(nets.full_range, nets.short_range, rgb, run)[0]
    mesh = landmarks.face_mesh(nets.landmarks, rgb, face, run)
    shut = np.ascontiguousarray(rgb).copy()
    for corners, mirrored in ((landmarks.IMAGE_LEFT_EYE, False),
                              (landmarks.IMAGE_RIGHT_EYE, True)):
        contour = eyes.eye_points(nets.iris, rgb, mesh.points[list(corners)], mirrored,
                                  run).contour[:16]
        opening = np.zeros(rgb.shape[:2], np.uint8)
        cv2.fillConvexPoly(opening, cv2.convexHull(contour.astype(np.int32)), 255)
        shut = cv2.inpaint(shut, cv2.dilate(opening, np.ones((3, 3), np.uint8), iterations=2),
                           5, cv2.INPAINT_TELEA)
        lower, upper = contour[:9], contour[9:16]
        meet = np.vstack([lower[:1], (lower[1:8] + upper) / 2, lower[-1:]]).astype(np.int32)
        cv2.polylines(shut, [meet], False, (60, 45, 40), 2, cv2.LINE_AA)
    return shut
