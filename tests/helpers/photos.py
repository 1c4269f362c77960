"""Real photos that ship inside installed packages, and small helpers to read and write them."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
from PIL import Image


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin, f"{name} is needed for the test photos"
    return Path(spec.origin).parent


SKIMAGE_DATA = _package_dir("skimage") / "data"
SKLEARN_IMAGES = _package_dir("sklearn") / "datasets" / "images"
REPO_ROOT = Path(__file__).resolve().parents[2]

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


def load_rgb(name: str) -> np.ndarray:
    """A test photo as uint8 RGB, straight from Pillow."""
    with Image.open(PHOTOS[name]) as image:
        return np.asarray(image.convert("RGB"))


def save_rgb(array: np.ndarray, path: Path, **params) -> Path:
    Image.fromarray(array).save(path, **params)
    return path
