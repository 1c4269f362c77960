"""Relative depth from a transformers depth-estimation model on disk.

The model directory is a standard ``save_pretrained`` folder (config.json,
model.safetensors, preprocessor_config.json), e.g. Depth-Anything-V2-Small-hf,
loaded through the Auto classes with no remote code and no network. With no
model installed the modality is "unavailable" and says how to get one: a
depth map is never invented.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from critique_app.core.errors import CritiqueError, ModelError, check_cancelled
from critique_app.core.imaging.photo import to_uint8
from critique_app.core.modalities.base import (
    OK,
    ModalityResult,
    map_stats,
    sample,
    unavailable,
)
from critique_app.core.paths import models_dir

MEANING = "nearest"
DEFAULT_DEPTH_DIR_NAME = "depth"
# Architectures whose output is a distance (far = large) rather than a relative
# inverse depth / disparity (near = large, as DPT and Depth Anything give).
_METRIC_DEPTH_TYPES = {"glpn", "zoedepth", "depth_pro", "prompt_depth_anything"}


def default_model_dir() -> Path:
    return models_dir() / DEFAULT_DEPTH_DIR_NAME


def find_depth_model(explicit: str | Path | None = None) -> Path | None:
    """The depth model folder to use: explicit, $CRITIQUE_DEPTH_MODEL, or the default.

    A folder the user named and that holds no model is an error, never a silent
    fall-back to another model.
    """
    if explicit:
        if not (Path(explicit) / "config.json").is_file():
            raise ModelError(f"no depth model found at {explicit} (expected a config.json there)")
        return Path(explicit)
    for candidate in (os.environ.get("CRITIQUE_DEPTH_MODEL"), _store_depth_model(),
                      default_model_dir()):
        if candidate and (Path(candidate) / "config.json").is_file():
            return Path(candidate)
    return None


def _store_depth_model() -> Path | None:
    """The first depth model installed with `critique models pull` (or the Models dialog)."""
    from critique_app.core.store.store import ModelStore

    try:
        store = ModelStore()
        installed = store.installed_for_task("depth")
        return store.path(installed[0]) if installed else None
    except CritiqueError:  # an unreadable manifest must not break the other overlays
        return None


class DepthModel:
    """A depth-estimation model loaded once and reused; thread-safe to call."""

    def __init__(self, model_dir: Path, device: str = "cpu") -> None:
        from critique_app.core.hf import import_transformers

        transformers = import_transformers()
        import torch

        self.model_dir = Path(model_dir)
        self.device = torch.device(device)
        try:
            self.processor = transformers.AutoImageProcessor.from_pretrained(
                self.model_dir, local_files_only=True
            )
            self.model = transformers.AutoModelForDepthEstimation.from_pretrained(
                self.model_dir, local_files_only=True, use_safetensors=True
            )
        except Exception as error:  # many failure types: missing files, bad config, ...
            raise ModelError(
                f"the depth model at {self.model_dir} could not be loaded: "
                f"{str(error).splitlines()[0] if str(error) else type(error).__name__}"
            ) from error
        self.model.to(self.device).eval()
        self.model_type = self.model.config.model_type
        self.near_is_large = self.model_type not in _METRIC_DEPTH_TYPES
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"{self.model_type} ({self.model_dir.name})"

    def predict(self, rgb: np.ndarray, cancel=None) -> np.ndarray:
        """float32 RGB (H, W, 3) in [0, 1] -> relative depth (H, W) in [0, 1], 1 = nearest."""
        import torch

        inputs = self.processor(images=to_uint8(rgb), return_tensors="pt").to(self.device)
        check_cancelled(cancel)
        with self._lock, torch.inference_mode():
            predicted = self.model(**inputs).predicted_depth
        depth = predicted.squeeze().float().cpu().numpy()
        if not np.all(np.isfinite(depth)):
            raise ModelError(f"the depth model {self.name} produced invalid values")
        depth = cv2.resize(depth, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_CUBIC)
        if not self.near_is_large:
            depth = -depth
        low, high = np.percentile(sample(depth), [1, 99])
        if high - low < 1e-9:
            return np.zeros(depth.shape, np.float32)
        return np.clip((depth - low) / (high - low), 0, 1).astype(np.float32)


@lru_cache(maxsize=2)
def load_depth_model(model_dir: Path, device: str = "cpu") -> DepthModel:
    return DepthModel(model_dir, device)


def compute_depth(rgb: np.ndarray, model_dir: Path | None, cancel=None) -> ModalityResult:
    method = "depth-estimation model"
    if model_dir is None:
        return unavailable(
            "depth",
            method,
            MEANING,
            reason="no depth model is installed",
            hint=(
                "pull one with 'critique models pull depth-anything-v2-small' (Tools ▸ Models… in "
                "the app), or point CRITIQUE_DEPTH_MODEL or --depth-model at a transformers "
                "depth model folder"
            ),
        )
    model = load_depth_model(Path(model_dir))
    depth = model.predict(rgb, cancel=cancel)
    stats = map_stats(depth)
    stats["near_share_pct"] = stats.pop("share_above_half_pct")
    stats["range_p5_p95"] = round(float(np.subtract(*np.percentile(sample(depth), [95, 5]))), 4)
    return ModalityResult("depth", OK, f"{method}: {model.name}", MEANING, map=depth, stats=stats)
