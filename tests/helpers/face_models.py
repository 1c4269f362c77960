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
