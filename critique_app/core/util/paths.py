"""Where Critique keeps per-user data (models, caches, settings).

``CRITIQUE_HOME`` moves everything (tests point it at a temporary folder);
``CRITIQUE_MODELS_DIR`` moves only the model weights.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def data_dir() -> Path:
    override = os.environ.get("CRITIQUE_HOME")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir("critique", appauthor=False))


def models_dir() -> Path:
    override = os.environ.get("CRITIQUE_MODELS_DIR")
    return Path(override).expanduser() if override else data_dir() / "models"


def resource_path(*parts: str) -> Path:
    """A file under the project's ``resources/``: bundled in the wheel, or the source tree."""
    package_root = Path(__file__).resolve().parents[2]  # critique_app/
    bundled = package_root / "_resources"
    base = bundled if bundled.is_dir() else package_root.parent / "resources"
    return base.joinpath(*parts)
