"""Shared fixtures: real photos that ship inside installed packages, and isolation."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin, f"{name} is needed for the test photos"
    return Path(spec.origin).parent


# Qt tests run without a display; set before pytest-qt creates the QApplication.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SKIMAGE_DATA = _package_dir("skimage") / "data"
SKLEARN_IMAGES = _package_dir("sklearn") / "datasets" / "images"
REPO_ROOT = Path(__file__).resolve().parent.parent

# Public-domain / CC0 (scikit-image) and CC BY 2.0 (scikit-learn) photographs.
PHOTOS = {
    "chelsea": SKIMAGE_DATA / "chelsea.png",  # cat, CC0
    "coffee": SKIMAGE_DATA / "coffee.png",  # espresso cup, CC0
    "astronaut": SKIMAGE_DATA / "astronaut.png",  # NASA, public domain
    "rocket": SKIMAGE_DATA / "rocket.jpg",  # SpaceX, public domain; Adobe RGB profile
    "camera": SKIMAGE_DATA / "camera.png",  # cameraman, grey, strong verticals
    "china": SKLEARN_IMAGES / "china.jpg",  # CC BY 2.0
}


SHOOT = ["chelsea", "coffee", "astronaut", "rocket"]  # four real photos, a small shoot


def copy_shoot(folder: Path, names: list[str] = SHOOT) -> Path:
    """A folder holding copies of the named test photos, under their own file names."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(PHOTOS[name], folder / PHOTOS[name].name)
    return folder


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """No test reads or writes the real user's data folder, or reaches a model hub."""
    home = tmp_path_factory.mktemp("critique-home")
    monkeypatch.setenv("CRITIQUE_HOME", str(home))
    monkeypatch.delenv("CRITIQUE_MODELS_DIR", raising=False)
    monkeypatch.delenv("CRITIQUE_DEPTH_MODEL", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    return home


@pytest.fixture
def bridge(qtbot):
    """The app's one bridge to worker threads; a test must leave no work running.
    The wait is long because cancelling a model pull or a training run takes a while."""
    from critique_app.gui.bridge import Bridge  # Qt only for the tests that ask for it

    bridge = Bridge()
    yield bridge
    assert bridge.shutdown(30_000)


@pytest.fixture
def photo_path():
    def get(name: str) -> Path:
        return PHOTOS[name]

    return get


def load_rgb(name: str) -> np.ndarray:
    """A test photo as uint8 RGB, straight from Pillow."""
    with Image.open(PHOTOS[name]) as image:
        return np.asarray(image.convert("RGB"))


def save_rgb(array: np.ndarray, path: Path, **params) -> Path:
    Image.fromarray(array).save(path, **params)
    return path


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A tiny score model trained in-process (see score_models.py), one per test module."""
    from score_models import save_tiny_scorer

    return save_tiny_scorer(tmp_path_factory.mktemp("model") / "tiny-score", steps=40)


@pytest.fixture
def installed(tiny_model):
    """The tiny score model, installed in this test's model store."""
    from critique_app.core.store.store import ModelStore

    ModelStore().import_dir(tiny_model, report=lambda _: None)


@pytest.fixture(scope="module")
def cat():
    """The chelsea photo analysed (no depth), shared by a module's critic tests."""
    from critique_app.core.analysis import analyze

    return analyze(PHOTOS["chelsea"], depth=False)


@pytest.fixture
def fresh_models():
    """Language models loaded by a test are unloaded after it (use with usefixtures)."""
    from critique_app.core.critic.loading import unload_all

    yield
    unload_all()


@pytest.fixture(scope="session")
def tiny_language_models(tmp_path_factory) -> dict[str, Path]:
    """Tiny random language models (see tiny_lms.py), built once for the critic tests:
    a text model, one that never stops talking, a LLaVA VLM and an Idefics3 VLM."""
    from tiny_lms import save_tiny_causal_lm, save_tiny_idefics3, save_tiny_vlm

    root = tmp_path_factory.mktemp("tiny-lms")
    return {"causal": save_tiny_causal_lm(root / "causal"),
            "talker": save_tiny_causal_lm(root / "talker", never_stop=True),
            "vlm": save_tiny_vlm(root / "vlm"),
            "idefics3": save_tiny_idefics3(root / "idefics3")}
